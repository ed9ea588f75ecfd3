package awsdouble_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// TestErrorsReachTheSDKAsAWSSendsThem checks, per case, the error type the SDK decodes and the HTTP status.
// Types the SDK models for the operation are checked with errors.As (the SDK maps only the errors each operation
// lists; ValidationException and ThrottlingException are listed by none, so only their code is checked).
func TestErrorsReachTheSDKAsAWSSendsThem(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("alias/app")
	other := d.CreateKey("alias/other")
	encCtx := map[string]string{"Department": "Engineering"}
	blob := mustEncrypt(t, d, key.ID, []byte("p"), encCtx)
	tampered := append([]byte(nil), blob...)
	tampered[len(tampered)-1] ^= 1

	decrypt := func(in kms.DecryptInput) func(context.Context) error {
		return func(ctx context.Context) error { _, err := d.KMS.Decrypt(ctx, &in); return err }
	}
	encrypt := func(in kms.EncryptInput) func(context.Context) error {
		return func(ctx context.Context) error { _, err := d.KMS.Encrypt(ctx, &in); return err }
	}
	generate := func(in kms.GenerateDataKeyInput) func(context.Context) error {
		return func(ctx context.Context) error { _, err := d.KMS.GenerateDataKey(ctx, &in); return err }
	}
	// faulted arms a fault that outlasts the SDK's attempts: 3 for retryable errors, 1 otherwise.
	faulted := func(op, errType string, times int, call func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			d.InjectFault(awsdouble.Fault{Operation: op, ErrorType: errType, Times: times})
			return call(ctx)
		}
	}

	cases := []struct {
		name       string
		call       func(context.Context) error
		isWanted   func(error) bool
		wantCode   string
		wantStatus int
	}{
		{"Decrypt naming another key is IncorrectKeyException",
			decrypt(kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx, KeyId: aws.String(other.ARN)}),
			isA[*types.IncorrectKeyException], "IncorrectKeyException", 400},
		{"Decrypt with a different context is InvalidCiphertextException",
			decrypt(kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"Department": "Sales"}}),
			isA[*types.InvalidCiphertextException], "InvalidCiphertextException", 400},
		{"Decrypt without the context is InvalidCiphertextException",
			decrypt(kms.DecryptInput{CiphertextBlob: blob}),
			isA[*types.InvalidCiphertextException], "InvalidCiphertextException", 400},
		{"Decrypt with an extra context pair is InvalidCiphertextException",
			decrypt(kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"Department": "Engineering", "x": "y"}}),
			isA[*types.InvalidCiphertextException], "InvalidCiphertextException", 400},
		{"Decrypt of a tampered blob is InvalidCiphertextException",
			decrypt(kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: encCtx}),
			isA[*types.InvalidCiphertextException], "InvalidCiphertextException", 400},
		{"Decrypt of garbage is InvalidCiphertextException",
			decrypt(kms.DecryptInput{CiphertextBlob: []byte("not a kms ciphertext at all, just bytes")}),
			isA[*types.InvalidCiphertextException], "InvalidCiphertextException", 400},
		{"Decrypt naming an unknown key is NotFoundException",
			decrypt(kms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String("alias/missing")}),
			isA[*types.NotFoundException], "NotFoundException", 400},
		{"Encrypt with an unknown key id is NotFoundException",
			encrypt(kms.EncryptInput{KeyId: aws.String("0000abcd-12ab-34cd-56ef-1234567890ab"), Plaintext: []byte("p")}),
			isA[*types.NotFoundException], "NotFoundException", 400},
		{"Encrypt with an unknown alias ARN is NotFoundException",
			encrypt(kms.EncryptInput{KeyId: aws.String("arn:aws:kms:us-east-1:111122223333:alias/missing"), Plaintext: []byte("p")}),
			isA[*types.NotFoundException], "NotFoundException", 400},
		{"Encrypt with an empty KeyId is ValidationException",
			encrypt(kms.EncryptInput{KeyId: aws.String(""), Plaintext: []byte("p")}),
			nil, "ValidationException", 400},
		{"Encrypt of 4097 bytes is ValidationException",
			encrypt(kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: make([]byte, 4097)}),
			nil, "ValidationException", 400},
		{"Encrypt with an asymmetric algorithm is InvalidKeyUsageException",
			encrypt(kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}),
			isA[*types.InvalidKeyUsageException], "InvalidKeyUsageException", 400},
		{"Encrypt as a dry run is DryRunOperationException",
			encrypt(kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p"), DryRun: aws.Bool(true)}),
			isA[*types.DryRunOperationException], "DryRunOperationException", 412},
		{"GenerateDataKey with KeySpec and NumberOfBytes is ValidationException",
			generate(kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)}),
			nil, "ValidationException", 400},
		{"GenerateDataKey with neither length is ValidationException",
			generate(kms.GenerateDataKeyInput{KeyId: aws.String(key.ID)}),
			nil, "ValidationException", 400},
		{"GenerateDataKey of 1025 bytes is ValidationException",
			generate(kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), NumberOfBytes: aws.Int32(1025)}),
			nil, "ValidationException", 400},
		{"injected ThrottlingException outlasting the retries",
			faulted("Encrypt", "ThrottlingException", 3, encrypt(kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")})),
			nil, "ThrottlingException", 400},
		{"injected DependencyTimeoutException",
			faulted("GenerateDataKey", "DependencyTimeoutException", 3, generate(kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256})),
			isA[*types.DependencyTimeoutException], "DependencyTimeoutException", 500},
		{"injected KeyUnavailableException",
			faulted("Decrypt", "KeyUnavailableException", 3, decrypt(kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx})),
			isA[*types.KeyUnavailableException], "KeyUnavailableException", 500},
		{"injected KMSInvalidStateException",
			faulted("Encrypt", "KMSInvalidStateException", 1, encrypt(kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")})),
			isA[*types.KMSInvalidStateException], "KMSInvalidStateException", 400},
		{"GetSecretValue of an unknown name is ResourceNotFoundException",
			func(ctx context.Context) error {
				_, err := d.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
				return err
			},
			isA[*smtypes.ResourceNotFoundException], "ResourceNotFoundException", 400},
		{"injected InternalServiceError on GetSecretValue",
			faulted("GetSecretValue", "InternalServiceError", 3, func(ctx context.Context) error {
				_, err := d.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
				return err
			}),
			isA[*smtypes.InternalServiceError], "InternalServiceError", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func(before int) {
				if after := len(d.Records()); after == before {
					t.Error("the failed call left no record")
				}
			}(len(d.Records()))
			err := tc.call(testContext(t))
			if err == nil {
				t.Fatal("call succeeded")
			}
			if tc.isWanted != nil && !tc.isWanted(err) {
				t.Errorf("errors.As found no %s in %T: %v", tc.wantCode, err, err)
			}
			if got := errorCode(err); got != tc.wantCode {
				t.Errorf("ErrorCode() = %q, want %q", got, tc.wantCode)
			}
			if got := httpStatus(err); got != tc.wantStatus {
				t.Errorf("HTTP status = %d, want %d", got, tc.wantStatus)
			}
		})
	}
}

// TestWireFormat checks what the SDK does not show: headers, the error body and unknown targets.
func TestWireFormat(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	cases := []struct {
		name, target, body string
		creds              *awsdouble.Credentials // nil: not signed
		wantStatus         int
		wantType           string
		wantMessageMember  string
	}{
		{"unknown KMS operation", "TrentService.CreateKey", `{}`, &awsdouble.DefaultCredentials, 400, "UnknownOperationException", ""},
		{"missing target", "", `{}`, &awsdouble.DefaultCredentials, 400, "UnknownOperationException", ""},
		{"KMS error body uses message", "TrentService.Encrypt", `{"KeyId":"alias/missing","Plaintext":"cA=="}`, &awsdouble.DefaultCredentials, 400, "NotFoundException", "message"},
		{"Secrets Manager error body uses Message", "secretsmanager.GetSecretValue", `{"SecretId":"missing"}`, &awsdouble.DefaultCredentials, 400, "ResourceNotFoundException", "Message"},
		{"malformed JSON", "TrentService.Encrypt", `{"KeyId":`, &awsdouble.DefaultCredentials, 400, "SerializationException", "message"},
		{"unsigned request", "TrentService.Encrypt", `{"KeyId":"alias/missing","Plaintext":"cA=="}`, nil, 400, "MissingAuthenticationTokenException", "message"},
		{"unknown access key", "TrentService.Encrypt", `{"KeyId":"alias/missing","Plaintext":"cA=="}`,
			&awsdouble.Credentials{AccessKeyID: "ASIAUNKNOWNEXAMPLE00", SessionToken: "t"}, 400, "UnrecognizedClientException", "message"},
		{"session key without its token", "TrentService.Encrypt", `{"KeyId":"alias/missing","Plaintext":"cA=="}`,
			&awsdouble.Credentials{AccessKeyID: awsdouble.DefaultCredentials.AccessKeyID}, 400, "UnrecognizedClientException", "message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, d.URL, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			if tc.target != "" {
				req.Header.Set("X-Amz-Target", tc.target)
			}
			if tc.creds != nil {
				signWithoutSignature(req, *tc.creds, "kms")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("error body is not JSON: %v", err)
			}
			if resp.StatusCode != tc.wantStatus || body["__type"] != tc.wantType {
				t.Errorf("status %d __type %v, want %d %s", resp.StatusCode, body["__type"], tc.wantStatus, tc.wantType)
			}
			if tc.wantMessageMember != "" && body[tc.wantMessageMember] == nil {
				t.Errorf("body %v has no %q member", body, tc.wantMessageMember)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Errorf("headers = %v", resp.Header)
			}
		})
	}
	if n := len(d.Records()); n != 3 {
		t.Errorf("%d records, want 3: calls to unknown operations and unauthenticated calls are not logged", n)
	}
	if d.Calls("CreateKey") != 1 {
		t.Errorf("Calls(CreateKey) = %d, want 1", d.Calls("CreateKey"))
	}
}
