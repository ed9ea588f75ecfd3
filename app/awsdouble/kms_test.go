package awsdouble_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

func TestEncryptDecryptRoundTripAcceptsEveryKeyIdForm(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("alias/app")
	forms := []struct{ name, keyID string }{
		{"key id", key.ID},
		{"key ARN", key.ARN},
		{"alias name", "alias/app"},
		{"alias ARN", "arn:aws:kms:us-east-1:111122223333:alias/app"},
	}
	encCtx := map[string]string{"Department": "Engineering", "Project": "Alpha"}
	for _, enc := range forms {
		for _, dec := range append(forms, struct{ name, keyID string }{"no KeyId", ""}) {
			t.Run("encrypt with "+enc.name+", decrypt with "+dec.name, func(t *testing.T) {
				plaintext := []byte("secret for " + enc.name)
				blob := mustEncrypt(t, d, enc.keyID, plaintext, encCtx)
				if bytes.Contains(blob, plaintext) {
					t.Fatal("ciphertext contains the plaintext")
				}
				in := &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx}
				if dec.keyID != "" {
					in.KeyId = aws.String(dec.keyID)
				}
				out, err := d.KMS.Decrypt(testContext(t), in)
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if !bytes.Equal(out.Plaintext, plaintext) {
					t.Errorf("Plaintext = %q, want %q", out.Plaintext, plaintext)
				}
				if aws.ToString(out.KeyId) != key.ARN {
					t.Errorf("KeyId = %q, want the key ARN %q", aws.ToString(out.KeyId), key.ARN)
				}
				if out.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
					t.Errorf("EncryptionAlgorithm = %q", out.EncryptionAlgorithm)
				}
			})
		}
	}
}

func TestEncryptAnswersWithKeyARNAndAlgorithm(t *testing.T) {
	d := mustStart(t, awsdouble.Options{Region: "ap-southeast-2", AccountID: "444455556666"})
	key := d.CreateKeyWithID("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/app")
	if want := "arn:aws:kms:ap-southeast-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"; key.ARN != want {
		t.Fatalf("ARN = %q, want %q", key.ARN, want)
	}
	out, err := d.KMS.Encrypt(testContext(t), &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.KeyId) != key.ARN || out.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("KeyId %q, EncryptionAlgorithm %q", aws.ToString(out.KeyId), out.EncryptionAlgorithm)
	}
	again := mustEncrypt(t, d, key.ID, []byte("x"), nil)
	if bytes.Equal(out.CiphertextBlob, again) {
		t.Error("two encryptions of one plaintext gave the same blob; nonces are not fresh")
	}
}

func TestGenerateDataKeyLengthsAndDecryptableBlob(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	cases := []struct {
		name     string
		in       kms.GenerateDataKeyInput
		wantSize int
	}{
		{"KeySpec AES_256", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{"KeySpec AES_128", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{"NumberOfBytes 64", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(64)}, 64},
	}
	encCtx := map[string]string{"table": "secrets"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.KeyId, in.EncryptionContext = aws.String(key.ID), encCtx
			out, err := d.KMS.GenerateDataKey(testContext(t), &in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Plaintext) != tc.wantSize {
				t.Errorf("data key is %d bytes, want %d", len(out.Plaintext), tc.wantSize)
			}
			if aws.ToString(out.KeyId) != key.ARN {
				t.Errorf("KeyId = %q", aws.ToString(out.KeyId))
			}
			dec, err := d.KMS.Decrypt(testContext(t), &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: encCtx})
			if err != nil {
				t.Fatalf("Decrypt of the data key blob: %v", err)
			}
			if !bytes.Equal(dec.Plaintext, out.Plaintext) {
				t.Error("the blob does not decrypt to the data key")
			}
		})
	}
}

func TestDescribeKeyReportsMetadataAndState(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	d := mustStart(t, awsdouble.Options{Now: func() time.Time { return now }})
	key := d.CreateKey("alias/app")
	describe := func() *types.KeyMetadata {
		t.Helper()
		out, err := d.KMS.DescribeKey(testContext(t), &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
		if err != nil {
			t.Fatal(err)
		}
		return out.KeyMetadata
	}
	m := describe()
	if aws.ToString(m.KeyId) != key.ID || aws.ToString(m.Arn) != key.ARN || aws.ToString(m.AWSAccountId) != "111122223333" {
		t.Errorf("KeyId %q Arn %q AWSAccountId %q", aws.ToString(m.KeyId), aws.ToString(m.Arn), aws.ToString(m.AWSAccountId))
	}
	if !m.Enabled || m.KeyState != types.KeyStateEnabled || m.KeyUsage != types.KeyUsageTypeEncryptDecrypt ||
		m.KeySpec != types.KeySpecSymmetricDefault || m.Origin != types.OriginTypeAwsKms || m.KeyManager != types.KeyManagerTypeCustomer {
		t.Errorf("metadata = %+v", m)
	}
	if !aws.ToTime(m.CreationDate).Equal(now) {
		t.Errorf("CreationDate = %v, want %v", aws.ToTime(m.CreationDate), now)
	}
	if err := d.DisableKey(key.ARN); err != nil {
		t.Fatal(err)
	}
	if m := describe(); m.Enabled || m.KeyState != types.KeyStateDisabled {
		t.Errorf("after DisableKey: Enabled %v KeyState %q", m.Enabled, m.KeyState)
	}
	if err := d.DisableKey("alias/missing"); err == nil {
		t.Error("DisableKey of an unknown alias returned nil")
	}
}

func TestThrottlingIsRetriedBySDKToSuccess(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	d.InjectFault(awsdouble.Fault{Operation: "Encrypt", ErrorType: "ThrottlingException", Times: 2})
	if _, err := d.KMS.Encrypt(testContext(t), &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")}); err != nil {
		t.Fatalf("Encrypt after two throttles: %v", err)
	}
	if got := d.Calls("Encrypt"); got != 3 {
		t.Errorf("Calls(Encrypt) = %d, want 3 (two throttled, one served)", got)
	}
	records := decodeRecords(t, d.Records())
	if len(records) != 3 || records[0].ErrorCode != "ThrottlingException" || records[1].ErrorCode != "ThrottlingException" || records[2].ErrorCode != "" {
		t.Errorf("records = %+v, want two throttled then one success", records)
	}
}

func TestPersistentFaultSurfacesAsTypedErrorAfterRetries(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	blob := mustEncrypt(t, d, key.ID, []byte("p"), nil)
	d.InjectFault(awsdouble.Fault{Operation: "Decrypt", ErrorType: "KMSInternalException", Times: 100})
	_, err := d.KMS.Decrypt(testContext(t), &kms.DecryptInput{CiphertextBlob: blob})
	if !isA[*types.KMSInternalException](err) || httpStatus(err) != 500 {
		t.Fatalf("err = %v (status %d), want KMSInternalException with 500", err, httpStatus(err))
	}
	if got := d.Calls("Decrypt"); got != 3 {
		t.Errorf("Calls(Decrypt) = %d, want the default retryer's 3 attempts", got)
	}
	if _, err := d.KMS.Encrypt(testContext(t), &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")}); err != nil {
		t.Errorf("a Decrypt fault failed Encrypt: %v", err)
	}
}

func TestFaultForAnyOperationIsSpentAfterTimes(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	// KMSInvalidStateException is a 400 the SDK does not retry, so each call spends one.
	d.InjectFault(awsdouble.Fault{ErrorType: "KMSInvalidStateException", Times: 2})
	ctx := testContext(t)
	_, err1 := d.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key.ID)})
	_, err2 := d.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")})
	_, err3 := d.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key.ID)})
	if errorCode(err1) != "KMSInvalidStateException" || !isA[*types.KMSInvalidStateException](err2) {
		t.Errorf("faulted calls: %v, %v; want KMSInvalidStateException", err1, err2)
	}
	if err3 != nil {
		t.Errorf("third call after a Times:2 fault: %v", err3)
	}
}

func TestDisabledKeyRefusesCryptography(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("alias/app")
	blob := mustEncrypt(t, d, key.ID, []byte("p"), nil)
	if err := d.DisableKey("alias/app"); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	_, encErr := d.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")})
	_, decErr := d.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	_, gdkErr := d.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256})
	for name, err := range map[string]error{"Encrypt": encErr, "Decrypt": decErr, "GenerateDataKey": gdkErr} {
		if !isA[*types.DisabledException](err) || httpStatus(err) != 400 {
			t.Errorf("%s: err = %v (status %d), want DisabledException 400", name, err, httpStatus(err))
		}
	}
}

func TestDecryptNeverReturnsPlaintextOfAnotherKeysBlob(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	a, b := d.CreateKey(""), d.CreateKey("")
	blob := mustEncrypt(t, d, a.ID, []byte("p"), nil)
	// Rewrite the key id in the header to b's: the header is bound into the GCM tag, so this must not open under b.
	forged := bytes.Replace(blob, []byte(a.ID), []byte(b.ID), 1)
	_, err := d.KMS.Decrypt(testContext(t), &kms.DecryptInput{CiphertextBlob: forged})
	if !isA[*types.InvalidCiphertextException](err) {
		t.Errorf("forged header: err = %v, want InvalidCiphertextException", err)
	}
}
