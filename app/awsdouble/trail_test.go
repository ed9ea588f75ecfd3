package awsdouble_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// trailRecord is the part of a CloudTrail record the detection rules and these tests read.
type trailRecord struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		SessionContext struct {
			SessionIssuer struct {
				Type, PrincipalID, ARN, AccountID, UserName string
			} `json:"sessionIssuer"`
			Attributes struct {
				CreationDate     string `json:"creationDate"`
				MFAAuthenticated string `json:"mfaAuthenticated"`
			} `json:"attributes"`
		} `json:"sessionContext"`
		UserName string `json:"userName"`
	} `json:"userIdentity"`
	EventTime         string          `json:"eventTime"`
	EventSource       string          `json:"eventSource"`
	EventName         string          `json:"eventName"`
	AWSRegion         string          `json:"awsRegion"`
	SourceIPAddress   string          `json:"sourceIPAddress"`
	UserAgent         string          `json:"userAgent"`
	ErrorCode         string          `json:"errorCode"`
	ErrorMessage      *string         `json:"errorMessage"`
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
	RequestID         string          `json:"requestID"`
	EventID           string          `json:"eventID"`
	ReadOnly          *bool           `json:"readOnly"`
	Resources         []struct {
		AccountID string `json:"accountId"`
		Type      string `json:"type"`
		ARN       string `json:"ARN"`
	} `json:"resources"`
	EventType          string `json:"eventType"`
	ManagementEvent    *bool  `json:"managementEvent"`
	RecipientAccountID string `json:"recipientAccountId"`
	EventCategory      string `json:"eventCategory"`
	TLSDetails         struct {
		TLSVersion, CipherSuite, ClientProvidedHostHeader string
	} `json:"tlsDetails"`
}

func decodeRecords(tb testing.TB, raw []json.RawMessage) []trailRecord {
	tb.Helper()
	out := make([]trailRecord, len(raw))
	for i, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		if err := dec.Decode(&out[i]); err != nil {
			tb.Fatalf("record %d is not valid JSON: %v\n%s", i, err, r)
		}
	}
	return out
}

const labRoleARN = "arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole"

func TestRecordOfFailedDecryptCarriesWhatTheRulesNeed(t *testing.T) {
	var (
		mu      sync.Mutex
		handed  []json.RawMessage
		eventAt = time.Date(2026, 11, 24, 10, 30, 15, 500, time.UTC)
	)
	d := mustStart(t, awsdouble.Options{
		Region: "ap-southeast-2", RoleARN: labRoleARN, Now: func() time.Time { return eventAt },
		OnRecord: func(r json.RawMessage) { mu.Lock(); handed = append(handed, r); mu.Unlock() },
	})
	key := d.CreateKey("alias/app")
	other := d.CreateKey("alias/other")
	plaintext := []byte("the plaintext that must never be logged")
	encCtx := map[string]string{"Project": "Alpha", "Department": "Engineering"}
	blob := mustEncrypt(t, d, key.ID, plaintext, encCtx)

	_, err := d.KMS.Decrypt(testContext(t), &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx, KeyId: aws.String("alias/other")})
	if errorCode(err) != "IncorrectKeyException" {
		t.Fatalf("Decrypt: %v, want IncorrectKeyException", err)
	}

	raw := d.Records()
	if len(raw) != 2 || len(handed) != 2 || !bytes.Equal(raw[1], handed[1]) {
		t.Fatalf("Records() has %d, OnRecord got %d; want the same 2", len(raw), len(handed))
	}
	for i, r := range raw {
		for _, leak := range []string{string(plaintext), base64.StdEncoding.EncodeToString(plaintext), base64.StdEncoding.EncodeToString(blob)} {
			if strings.Contains(string(r), leak) {
				t.Errorf("record %d contains plaintext or ciphertext %q", i, leak)
			}
		}
	}
	rec := decodeRecords(t, raw)[1]
	tasks := d.Tasks("kmswatch", "kmswatch-app")
	if len(tasks) != 1 {
		t.Fatalf("the app service runs %d tasks, want 1", len(tasks))
	}
	task := tasks[0]
	checks := []struct{ field, got, want string }{
		{"eventVersion", rec.EventVersion, "1.11"},
		{"userIdentity.type", rec.UserIdentity.Type, "AssumedRole"},
		{"userIdentity.arn", rec.UserIdentity.ARN, "arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/" + task.ID},
		{"userIdentity.arn is the task's session", rec.UserIdentity.ARN, task.Session.ARN},
		{"userIdentity.accessKeyId", rec.UserIdentity.AccessKeyID, awsdouble.DefaultCredentials.AccessKeyID},
		{"sessionContext.attributes.creationDate is the task's start", rec.UserIdentity.SessionContext.Attributes.CreationDate, "2026-11-24T10:30:15Z"},
		{"sessionContext.attributes.mfaAuthenticated", rec.UserIdentity.SessionContext.Attributes.MFAAuthenticated, "false"},
		{"sessionIssuer.type", rec.UserIdentity.SessionContext.SessionIssuer.Type, "Role"},
		{"sessionIssuer.arn", rec.UserIdentity.SessionContext.SessionIssuer.ARN, labRoleARN},
		{"sessionIssuer.userName", rec.UserIdentity.SessionContext.SessionIssuer.UserName, "pattern1-application-Pattern1ECSTaskRole"},
		{"sessionIssuer.accountId", rec.UserIdentity.SessionContext.SessionIssuer.AccountID, "111122223333"},
		{"principalId is the issuer's plus the session", rec.UserIdentity.PrincipalID, rec.UserIdentity.SessionContext.SessionIssuer.PrincipalID + ":" + task.ID},
		{"eventTime", rec.EventTime, "2026-11-24T10:30:15Z"},
		{"eventSource", rec.EventSource, "kms.amazonaws.com"},
		{"eventName", rec.EventName, "Decrypt"},
		{"awsRegion", rec.AWSRegion, "ap-southeast-2"},
		{"sourceIPAddress", rec.SourceIPAddress, "127.0.0.1"},
		{"errorCode", rec.ErrorCode, "IncorrectKeyException"},
		{"errorMessage", aws.ToString(rec.ErrorMessage), "The key ID in the request does not identify a CMK that can perform this operation."},
		{"responseElements", string(rec.ResponseElements), "null"},
		{"requestID matches x-amzn-RequestId", rec.RequestID, requestIDOf(err)},
		{"resources[0].ARN is the key asked for", rec.Resources[0].ARN, other.ARN},
		{"resources[0].type", rec.Resources[0].Type, "AWS::KMS::Key"},
		{"eventType", rec.EventType, "AwsApiCall"},
		{"recipientAccountId", rec.RecipientAccountID, "111122223333"},
		{"eventCategory", rec.EventCategory, "Management"},
		{"tlsDetails.tlsVersion", rec.TLSDetails.TLSVersion, "TLSv1.3"},
		{"tlsDetails.clientProvidedHostHeader", rec.TLSDetails.ClientProvidedHostHeader, "kms.ap-southeast-2.amazonaws.com"},
	}
	if len(task.ID) != 32 || strings.Trim(task.ID, "0123456789abcdef") != "" {
		t.Errorf("task id %q is not 32 hex digits, as ECS task ids are", task.ID)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if !strings.HasPrefix(rec.UserAgent, "aws-sdk-go-v2/") || len(rec.EventID) != 36 || rec.EventID == rec.RequestID {
		t.Errorf("userAgent %q eventID %q requestID %q", rec.UserAgent, rec.EventID, rec.RequestID)
	}
	if rec.ReadOnly == nil || !*rec.ReadOnly || rec.ManagementEvent == nil || !*rec.ManagementEvent {
		t.Errorf("readOnly %v managementEvent %v, want both true", rec.ReadOnly, rec.ManagementEvent)
	}
	var params struct {
		KeyID               string            `json:"keyId"`
		EncryptionContext   map[string]string `json:"encryptionContext"`
		EncryptionAlgorithm string            `json:"encryptionAlgorithm"`
	}
	if err := json.Unmarshal(rec.RequestParameters, &params); err != nil {
		t.Fatal(err)
	}
	if params.KeyID != "alias/other" || !reflect.DeepEqual(params.EncryptionContext, encCtx) || params.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		t.Errorf("requestParameters = %s, want keyId as sent, the context and SYMMETRIC_DEFAULT", rec.RequestParameters)
	}
	if success := decodeRecords(t, raw)[0]; success.ErrorCode != "" || success.ErrorMessage != nil || success.EventName != "Encrypt" {
		t.Errorf("the Encrypt record has errorCode %q errorMessage %v", success.ErrorCode, success.ErrorMessage)
	}
}

// requestIDOf is the x-amzn-RequestId the SDK read from the failed response.
func requestIDOf(err error) string {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return ""
	}
	return re.ServiceRequestID()
}

// TestRecordTopLevelFieldsMatchCloudTrail lists the members of the lab's sample event
// (cloudtrail-samples/lab-decrypt-incorrectkey-taskrole.json) plus the ones CloudTrail has added since.
func TestRecordTopLevelFieldsMatchCloudTrail(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	d.PutSecret("db", "x")
	if _, err := d.Secrets.GetSecretValue(testContext(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	key := d.CreateKey("")
	mustEncrypt(t, d, key.ID, []byte("p"), nil)
	want := []string{"awsRegion", "eventCategory", "eventID", "eventName", "eventSource", "eventTime", "eventType", "eventVersion",
		"managementEvent", "readOnly", "recipientAccountId", "requestID", "requestParameters", "resources", "responseElements",
		"sourceIPAddress", "tlsDetails", "userAgent", "userIdentity"}
	for i, raw := range d.Records() {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		for _, f := range want {
			if _, ok := fields[f]; !ok {
				t.Errorf("record %d lacks %q: %s", i, f, raw)
			}
		}
		if _, ok := fields["sessionCredentialFromConsole"]; ok {
			t.Errorf("record %d has sessionCredentialFromConsole, which CloudTrail writes only for console sessions", i)
		}
	}
	recs := decodeRecords(t, d.Records())
	sm, enc := recs[0], recs[1]
	if sm.EventSource != "secretsmanager.amazonaws.com" || string(sm.RequestParameters) != `{"secretId":"db"}` ||
		sm.Resources[0].Type != "AWS::SecretsManager::Secret" || sm.TLSDetails.ClientProvidedHostHeader != "secretsmanager.us-east-1.amazonaws.com" {
		t.Errorf("GetSecretValue record: eventSource %q requestParameters %s resources %v tlsDetails %v", sm.EventSource, sm.RequestParameters, sm.Resources, sm.TLSDetails)
	}
	if enc.Resources[0].Type != "AWS::KMS::Key" || enc.Resources[0].ARN != key.ARN {
		t.Errorf("Encrypt record resources = %v, want the key", enc.Resources)
	}
}

func TestRecordsRingKeepsTheNewest(t *testing.T) {
	d := mustStart(t, awsdouble.Options{MaxRecords: 3})
	for i := 1; i <= 5; i++ {
		// Unknown keys: failed calls are recorded too, and the keyId tells the records apart.
		if _, err := d.KMS.DescribeKey(testContext(t), &kms.DescribeKeyInput{KeyId: aws.String(fmt.Sprintf("alias/k%d", i))}); err == nil {
			t.Fatalf("DescribeKey of unknown alias/k%d succeeded", i)
		}
	}
	var got []string
	for _, rec := range decodeRecords(t, d.Records()) {
		var p struct {
			KeyID string `json:"keyId"`
		}
		if err := json.Unmarshal(rec.RequestParameters, &p); err != nil {
			t.Fatalf("requestParameters %s: %v", rec.RequestParameters, err)
		}
		got = append(got, p.KeyID)
	}
	if want := []string{"alias/k3", "alias/k4", "alias/k5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v oldest first", got, want)
	}
}

func TestConcurrentClientsAndInspection(t *testing.T) {
	d := mustStart(t, awsdouble.Options{MaxRecords: 50})
	d.CreateKey("alias/app")
	ctx := testContext(t) // made here: t's methods that stop the test belong to this goroutine
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				plaintext := []byte(fmt.Sprintf("worker %d round %d", w, i))
				encCtx := map[string]string{"w": fmt.Sprint(w)}
				enc, err := d.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: plaintext, EncryptionContext: encCtx})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: Encrypt: %w", w, i, err)
					return
				}
				out, err := d.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: Decrypt: %w", w, i, err)
					return
				}
				if !bytes.Equal(out.Plaintext, plaintext) {
					errs <- fmt.Errorf("worker %d round %d: Decrypt = %q, want %q", w, i, out.Plaintext, plaintext)
					return
				}
				d.Records()
				d.InjectFault(awsdouble.Fault{Operation: "DescribeKey", ErrorType: "ThrottlingException", Times: 1})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := d.Calls("Encrypt") + d.Calls("Decrypt"); got != 2*workers*rounds {
		t.Errorf("Calls = %d, want %d", got, 2*workers*rounds)
	}
	if n := len(d.Records()); n != 50 {
		t.Errorf("%d records kept, want MaxRecords 50", n)
	}
}
