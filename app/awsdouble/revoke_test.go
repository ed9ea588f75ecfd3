package awsdouble_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// steppingClock moves one second on at every reading, as rehearsals do.
type steppingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func (c *steppingClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// revokeOlderSessions is the inline policy IAM's console attaches as AWSRevokeOlderSessions when you choose
// "Revoke active sessions", with its date: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html
func revokeOlderSessions(before time.Time) string {
	return `{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Deny",
    "Action": "*",
    "Resource": "*",
    "Condition": {
      "DateLessThan": {
        "aws:TokenIssueTime": "` + before.UTC().Format(time.RFC3339) + `"
      }
    }
  }
}`
}

const (
	taskRoleName  = "kmswatch-task"
	responderRole = "arn:aws:iam::111122223333:role/kmswatch-responder"
	attackerIP    = "198.51.100.23"
)

// TestRevokeOlderSessionsRefusesStolenCredentialsAndNotFreshTasks is the containment loop on the double: a copy
// of the task's credentials used from elsewhere works until the responder attaches the revoke policy, is
// refused afterwards (AccessDeniedException in KMS's words, recorded from the attacker's address), while the
// tasks a forced deployment starts work, and deleting the policy lifts the refusal.
func TestRevokeOlderSessionsRefusesStolenCredentialsAndNotFreshTasks(t *testing.T) {
	clock := &steppingClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	d := mustStart(t, awsdouble.Options{Now: clock.Now})
	ctx := testContext(t)
	key := d.CreateKey("alias/kmswatch-app")
	encCtx := map[string]string{"Name": "Bob"}
	blob := mustEncrypt(t, d, key.ID, []byte("Hello, KMS"), encCtx)
	stolen := d.as(awsdouble.DefaultCredentials, attackerIP)
	decrypt := func(c clients) error {
		_, err := c.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx, KeyId: aws.String(key.ARN)})
		return err
	}
	if err := decrypt(stolen); err != nil {
		t.Fatalf("before containment the stolen copy decrypts: %v", err)
	}
	oldTask := d.Tasks("kmswatch", "kmswatch-app")[0]

	responder := d.as(mustAssumeRole(t, d, responderRole, "kmswatch-responder").Credentials, "")
	revokeAt := clock.peek()
	if _, err := responder.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(taskRoleName), PolicyName: aws.String("AWSRevokeOlderSessions"),
		PolicyDocument: aws.String(revokeOlderSessions(revokeAt)),
	}); err != nil {
		t.Fatalf("PutRolePolicy: %v", err)
	}

	err := decrypt(stolen)
	wantMessage := "User: " + oldTask.Session.ARN + " is not authorized to perform: kms:Decrypt on resource: " + key.ARN +
		" with an explicit deny in an identity-based policy"
	if errorCode(err) != "AccessDeniedException" || httpStatus(err) != 400 || errorMessage(err) != wantMessage {
		t.Fatalf("stolen Decrypt after containment: %v (status %d), want AccessDeniedException 400 %q", err, httpStatus(err), wantMessage)
	}
	rec := lastRecord(t, d)
	if rec.EventName != "Decrypt" || rec.ErrorCode != "AccessDeniedException" || aws.ToString(rec.ErrorMessage) != wantMessage ||
		rec.SourceIPAddress != attackerIP || rec.UserIdentity.ARN != oldTask.Session.ARN || rec.Resources[0].ARN != key.ARN {
		t.Errorf("the refusal's record: %s %s %q from %s by %s", rec.EventName, rec.ErrorCode, aws.ToString(rec.ErrorMessage),
			rec.SourceIPAddress, rec.UserIdentity.ARN)
	}
	// The same credentials from the task's own address are the same session: refused too.
	if err := decrypt(d.clients); errorCode(err) != "AccessDeniedException" {
		t.Errorf("the old task's own Decrypt: %v, want AccessDeniedException", err)
	}
	// STS answers whoever asks, deny or not.
	if _, err := stolen.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity under the deny: %v", err)
	}

	if _, err := responder.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("kmswatch"), Service: aws.String("kmswatch-app"), ForceNewDeployment: true,
	}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	tasks := d.Tasks("kmswatch", "kmswatch-app")
	if len(tasks) != 1 || tasks[0].ID == oldTask.ID || !tasks[0].Session.Issued.After(revokeAt) {
		t.Fatalf("after the forced deployment: tasks %+v, want one new task whose session is issued after %s", tasks, revokeAt)
	}
	fresh := d.as(tasks[0].Session.Credentials, "")
	if err := decrypt(fresh); err != nil {
		t.Errorf("the fresh task's Decrypt: %v", err)
	}
	if rec := lastRecord(t, d); rec.ErrorCode != "" || rec.UserIdentity.ARN != tasks[0].Session.ARN ||
		rec.UserIdentity.SessionContext.Attributes.CreationDate != tasks[0].Session.Issued.Format("2006-01-02T15:04:05Z") {
		t.Errorf("the fresh task's record: error %q by %s created %s", rec.ErrorCode, rec.UserIdentity.ARN, rec.UserIdentity.SessionContext.Attributes.CreationDate)
	}
	if err := decrypt(stolen); errorCode(err) != "AccessDeniedException" {
		t.Errorf("stolen Decrypt after the deployment: %v, want still AccessDeniedException", err)
	}

	if _, err := responder.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{
		RoleName: aws.String(taskRoleName), PolicyName: aws.String("AWSRevokeOlderSessions"),
	}); err != nil {
		t.Fatalf("DeleteRolePolicy: %v", err)
	}
	if err := decrypt(stolen); err != nil {
		t.Errorf("after release the old session decrypts again: %v", err)
	}
}

// TestExplicitDenyCoversEveryServiceInItsOwnWords: the revoke policy denies the old session everywhere, each
// service answering with its own access denied error, and leaves other principals alone.
func TestExplicitDenyCoversEveryServiceInItsOwnWords(t *testing.T) {
	clock := &steppingClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	d := mustStart(t, awsdouble.Options{Now: clock.Now})
	key := d.CreateKey("")
	topic := d.CreateTopic("kmswatch-dev-alerts")
	secretARN := d.PutSecret("db", "postgres://")
	mustPutRolePolicy(t, d, taskRoleName, "AWSRevokeOlderSessions", revokeOlderSessions(clock.peek()))
	old := d.Tasks("kmswatch", "kmswatch-app")[0].Session
	serviceARN := "arn:aws:ecs:us-east-1:111122223333:service/kmswatch/kmswatch-app"
	denied := func(action, resource string) string {
		return "User: " + old.ARN + " is not authorized to perform: " + action + " on resource: " + resource +
			" with an explicit deny in an identity-based policy"
	}
	cases := []struct {
		name                string
		call                func(context.Context, clients) error
		wantCode, wantMsg   string
		wantStatus          int
		wantRecordErrorCode string
	}{
		{"KMS", func(ctx context.Context, c clients) error {
			_, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key.ID)})
			return err
		}, "AccessDeniedException", denied("kms:DescribeKey", key.ARN), 400, "AccessDeniedException"},
		{"Secrets Manager", func(ctx context.Context, c clients) error {
			_, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
			return err
		}, "AccessDeniedException", denied("secretsmanager:GetSecretValue", secretARN), 400, "AccessDeniedException"},
		{"IAM", func(ctx context.Context, c clients) error {
			_, err := c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("AWSRevokeOlderSessions")})
			return err
		}, "AccessDenied", denied("iam:GetRolePolicy", "role "+taskRoleName), 403, "AccessDenied"},
		{"ECS", func(ctx context.Context, c clients) error {
			_, err := c.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("kmswatch"), Service: aws.String("kmswatch-app"), ForceNewDeployment: true})
			return err
		}, "AccessDeniedException", denied("ecs:UpdateService", serviceARN), 400, "AccessDeniedException"},
		{"SNS", func(ctx context.Context, c clients) error {
			_, err := c.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")})
			return err
		}, "AuthorizationError", denied("SNS:Publish", topic), 403, "AuthorizationError"},
	}
	user := d.AddUser("Alice")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			err := tc.call(ctx, d.as(old.Credentials, attackerIP))
			if errorCode(err) != tc.wantCode || errorMessage(err) != tc.wantMsg || httpStatus(err) != tc.wantStatus {
				t.Errorf("old session: %v (status %d), want %s %d %q", err, httpStatus(err), tc.wantCode, tc.wantStatus, tc.wantMsg)
			}
			if rec := lastRecord(t, d); rec.ErrorCode != tc.wantRecordErrorCode || rec.SourceIPAddress != attackerIP {
				t.Errorf("record errorCode %q from %s", rec.ErrorCode, rec.SourceIPAddress)
			}
			if err := tc.call(ctx, d.as(user.Credentials, "")); errorCode(err) == tc.wantCode {
				t.Errorf("an IAM user, who is not the role, was denied: %v", err)
			}
		})
	}
	if n := len(d.Messages(topic)); n != 1 {
		t.Errorf("%d messages published, want only the IAM user's", n)
	}
}

// TestListedActionsDenyOnlyThose: a Deny of listed actions leaves the others, and a session issued after the
// date is not affected.
func TestListedActionsDenyOnlyThose(t *testing.T) {
	clock := &steppingClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	d := mustStart(t, awsdouble.Options{Now: clock.Now})
	key := d.CreateKey("")
	mustPutRolePolicy(t, d, taskRoleName, "deny-crypto", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
		"Action":["kms:Decrypt","KMS:encrypt"],"Resource":["arn:aws:kms:us-east-1:111122223333:key/*"],
		"Condition":{"DateLessThan":{"aws:TokenIssueTime":"`+clock.peek().Format(time.RFC3339)+`"}}}]}`)
	ctx := testContext(t)
	if _, err := d.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")}); errorCode(err) != "AccessDeniedException" {
		t.Errorf("Encrypt (listed, any case): %v, want AccessDeniedException", err)
	}
	if _, err := d.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key.ID)}); err != nil {
		t.Errorf("DescribeKey (not listed): %v", err)
	}
	later := d.as(mustAssumeRole(t, d, "arn:aws:iam::111122223333:role/kmswatch-task", "later").Credentials, "")
	if _, err := later.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("p")}); err != nil {
		t.Errorf("Encrypt by a session issued after the date: %v", err)
	}
}

func mustPutRolePolicy(tb testing.TB, d *testDouble, roleName, policyName, doc string) {
	tb.Helper()
	admin := d.as(mustAssumeRole(tb, d, "arn:aws:iam::111122223333:role/admin", "admin").Credentials, "")
	if _, err := admin.IAM.PutRolePolicy(testContext(tb), &iam.PutRolePolicyInput{
		RoleName: aws.String(roleName), PolicyName: aws.String(policyName), PolicyDocument: aws.String(doc),
	}); err != nil {
		tb.Fatalf("PutRolePolicy %s: %v", policyName, err)
	}
}
