package awsdouble_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// TestScheduledDeletionCancelledLeavesTheKeyDisabled walks a key through the states the responder's second
// scenario needs, checking what each call answers, what it does to cryptography and what CloudTrail records.
func TestScheduledDeletionCancelledLeavesTheKeyDisabled(t *testing.T) {
	at := time.Date(2021, 3, 23, 18, 58, 30, 0, time.UTC)
	d := mustStart(t, awsdouble.Options{Now: func() time.Time { return at }})
	ctx := testContext(t)
	key := d.CreateKeyWithID("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/app")
	blob := mustEncrypt(t, d, key.ID, []byte("p"), nil)
	encrypt := func() error {
		_, err := d.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")})
		return err
	}
	decrypt := func() error {
		_, err := d.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
		return err
	}

	sched, err := d.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(key.ID), PendingWindowInDays: aws.Int32(20)})
	if err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	wantDeletion := at.Add(20 * 24 * time.Hour)
	if aws.ToString(sched.KeyId) != key.ARN || sched.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(sched.PendingWindowInDays) != 20 ||
		!aws.ToTime(sched.DeletionDate).Equal(wantDeletion) {
		t.Errorf("ScheduleKeyDeletion = %s %s %d %s", aws.ToString(sched.KeyId), sched.KeyState, aws.ToInt32(sched.PendingWindowInDays), aws.ToTime(sched.DeletionDate))
	}
	rec := lastRecord(t, d)
	var resp map[string]any
	if err := json.Unmarshal(rec.ResponseElements, &resp); err != nil {
		t.Fatal(err)
	}
	if rec.ReadOnly == nil || *rec.ReadOnly || string(rec.RequestParameters) != `{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","pendingWindowInDays":20}` ||
		resp["keyId"] != key.ARN || resp["keyState"] != "PendingDeletion" || resp["deletionDate"] != "Apr 12, 2021, 6:58:30 PM" || resp["pendingWindowInDays"] != 20.0 ||
		rec.Resources[0].ARN != key.ARN {
		t.Errorf("ScheduleKeyDeletion record: readOnly %v params %s response %s", rec.ReadOnly, rec.RequestParameters, rec.ResponseElements)
	}

	pending := key.ARN + " is pending deletion."
	for name, call := range map[string]func() error{
		"Encrypt": encrypt, "Decrypt": decrypt,
		"ScheduleKeyDeletion again": func() error {
			_, err := d.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(key.ID)})
			return err
		},
		"EnableKey": func() error {
			_, err := d.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(key.ID)})
			return err
		},
	} {
		if err := call(); !isA[*types.KMSInvalidStateException](err) || errorMessage(err) != pending || httpStatus(err) != 400 {
			t.Errorf("%s while pending deletion: %v, want KMSInvalidStateException %q", name, err, pending)
		}
	}
	desc, err := d.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if err != nil || desc.KeyMetadata.KeyState != types.KeyStatePendingDeletion || desc.KeyMetadata.Enabled ||
		!aws.ToTime(desc.KeyMetadata.DeletionDate).Equal(wantDeletion) || aws.ToInt32(desc.KeyMetadata.PendingDeletionWindowInDays) != 20 {
		t.Errorf("DescribeKey while pending: %+v, %v", desc, err)
	}

	cancel, err := d.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(key.ID)})
	if err != nil || aws.ToString(cancel.KeyId) != key.ARN {
		t.Fatalf("CancelKeyDeletion = %v, %v", cancel, err)
	}
	if rec := lastRecord(t, d); string(rec.ResponseElements) != `{"keyId":"`+key.ARN+`"}` {
		t.Errorf("CancelKeyDeletion responseElements = %s", rec.ResponseElements)
	}
	if d.KeyState(key.ID) != "Disabled" {
		t.Errorf("after CancelKeyDeletion the key is %s, want Disabled (API_CancelKeyDeletion.html)", d.KeyState(key.ID))
	}
	if err := encrypt(); !isA[*types.DisabledException](err) || errorMessage(err) != key.ARN+" is disabled." {
		t.Errorf("Encrypt after cancel: %v, want DisabledException", err)
	}
	if _, err := d.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(key.ID)}); !isA[*types.KMSInvalidStateException](err) {
		t.Errorf("CancelKeyDeletion of a key not pending: %v, want KMSInvalidStateException", err)
	}

	if _, err := d.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(key.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(); err != nil {
		t.Errorf("Decrypt after EnableKey: %v", err)
	}
	if _, err := d.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(key.ARN)}); err != nil {
		t.Fatal(err)
	}
	if rec := lastRecord(t, d); rec.EventName != "DisableKey" || rec.ReadOnly == nil || *rec.ReadOnly ||
		string(rec.ResponseElements) != "null" || string(rec.RequestParameters) != `{"keyId":"`+key.ARN+`"}` {
		t.Errorf("DisableKey record: %s readOnly %v params %s response %s", rec.EventName, rec.ReadOnly, rec.RequestParameters, rec.ResponseElements)
	}
	if err := decrypt(); !isA[*types.DisabledException](err) {
		t.Errorf("Decrypt after DisableKey: %v, want DisabledException", err)
	}
}

func TestScheduleKeyDeletionWindow(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	for _, days := range []int32{0, 6, 31, 366} {
		_, err := d.KMS.ScheduleKeyDeletion(testContext(t), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(key.ID), PendingWindowInDays: aws.Int32(days)})
		if errorCode(err) != "ValidationException" {
			t.Errorf("%d days: %v, want ValidationException", days, err)
		}
	}
	out, err := d.KMS.ScheduleKeyDeletion(testContext(t), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(key.ID)})
	if err != nil || aws.ToInt32(out.PendingWindowInDays) != 30 {
		t.Errorf("the default window: %v, %v; want 30 days", out, err)
	}
}

func TestKeyPolicyIsStoredAsPut(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	ctx := testContext(t)
	key := d.CreateKey("")
	got, err := d.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(key.ID)})
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		ID        string `json:"Id"`
		Statement []struct {
			Principal struct{ AWS string }
			Action    string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Policy)), &def); err != nil || def.ID != "key-default-1" ||
		def.Statement[0].Principal.AWS != "arn:aws:iam::111122223333:root" || def.Statement[0].Action != "kms:*" || aws.ToString(got.PolicyName) != "default" {
		t.Errorf("the default key policy: %s (%v)", aws.ToString(got.Policy), err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}]}`
	if _, err := d.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(key.ID), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	rec := lastRecord(t, d)
	var params struct {
		KeyID, PolicyName, Policy string
		Bypass                    *bool `json:"bypassPolicyLockoutSafetyCheck"`
	}
	if err := json.Unmarshal(rec.RequestParameters, &params); err != nil || params.Policy != policy || params.PolicyName != "default" ||
		params.Bypass == nil || *params.Bypass || rec.ReadOnly == nil || *rec.ReadOnly {
		t.Errorf("PutKeyPolicy record: %s readOnly %v", rec.RequestParameters, rec.ReadOnly)
	}
	got, err = d.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(key.ID), PolicyName: aws.String("default")})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Errorf("GetKeyPolicy after Put = %v, %v", got, err)
	}
	if _, err := d.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(key.ID), Policy: aws.String("{not json")}); !isA[*types.MalformedPolicyDocumentException](err) {
		t.Errorf("PutKeyPolicy of a document that is not JSON: %v", err)
	}
}

// TestUnknownKeysAreNamedAsKMSNamesThem: a well-formed id or ARN that names no key is "Key '<ARN>' does not exist".
func TestUnknownKeysAreNamedAsKMSNamesThem(t *testing.T) {
	d := mustStart(t, awsdouble.Options{Region: "ap-southeast-2"})
	cases := []struct{ keyID, want string }{
		{"ee61adfa-226f-4c04-9db6-c89cb6341095", "Key 'arn:aws:kms:ap-southeast-2:111122223333:key/ee61adfa-226f-4c04-9db6-c89cb6341095' does not exist"},
		{"arn:aws:kms:eu-west-1:444455556666:key/ee61adfa-226f-4c04-9db6-c89cb6341095", "Key 'arn:aws:kms:eu-west-1:444455556666:key/ee61adfa-226f-4c04-9db6-c89cb6341095' does not exist"},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", "Key 'arn:aws:kms:ap-southeast-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab' does not exist"},
		{"not-a-key", "Invalid keyId 'not-a-key'"},
		{"EE61ADFA-226F-4C04-9DB6-C89CB6341095", "Invalid keyId 'EE61ADFA-226F-4C04-9DB6-C89CB6341095'"},
		{"alias/missing", "Alias arn:aws:kms:ap-southeast-2:111122223333:alias/missing is not found."},
	}
	for _, tc := range cases {
		_, err := d.KMS.DescribeKey(testContext(t), &kms.DescribeKeyInput{KeyId: aws.String(tc.keyID)})
		if !isA[*types.NotFoundException](err) || errorMessage(err) != tc.want || httpStatus(err) != 400 {
			t.Errorf("DescribeKey(%s): %v, want NotFoundException %q", tc.keyID, err, tc.want)
		}
	}
}

// TestDecryptNamingADisabledKeyIsDisabledException: the key in the request is checked before it is compared
// with the blob's, so naming a disabled key gives the lab's DisabledException.
func TestDecryptNamingADisabledKeyIsDisabledException(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	disabled := d.CreateKey("")
	if err := d.DisableKey(disabled.ID); err != nil {
		t.Fatal(err)
	}
	blob := mustEncrypt(t, d, key.ID, []byte("p"), nil)
	_, err := d.KMS.Decrypt(testContext(t), &kms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(disabled.ID)})
	if !isA[*types.DisabledException](err) || errorMessage(err) != disabled.ARN+" is disabled." {
		t.Errorf("Decrypt naming a disabled key: %v, want DisabledException", err)
	}
}
