package executor

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/dynamodb"
	"github.com/kmswatch/kmswatch/infra/rules"
)

// The executor against the AWS double: the aws-sdk-go-v2 clients the Lambda builds, signed as the
// responder's role session, and the DynamoDB record store, all on the double's one endpoint.

const (
	doubleTaskRole = "arn:aws:iam::111122223333:role/kmswatch-dev-task"
	attackerIP     = "198.51.100.23"
	// taskPolicy stands for the permissions the stack gives the task role, so that release is seen to
	// leave every other policy of the role as it was.
	taskPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`
)

type settableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type doubleHarness struct {
	*Executor
	double   *awsdouble.Server
	url      string
	clock    *settableClock
	appKey   awsdouble.Key
	auditKey awsdouble.Key
}

func newDoubleHarness(t *testing.T) *doubleHarness {
	t.Helper()
	clock := &settableClock{now: start}
	d := awsdouble.New(awsdouble.Options{RoleARN: doubleTaskRole, Cluster: "kmswatch-dev", Service: "app", Now: clock.Now})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	h := &doubleHarness{double: d, url: srv.URL, clock: clock,
		appKey: d.CreateKey("alias/kmswatch-dev-app"), auditKey: d.CreateKey("alias/kmswatch-dev-audit")}
	topicARN := d.CreateTopic("kmswatch-dev-alerts")
	d.CreateTable(table, dynamodb.KeyAttribute)

	admin := h.clientsFrom(mustSession(t, d, "arn:aws:iam::111122223333:role/kmswatch-deployer", "pulumi"), "")
	if _, err := admin.IAM.PutRolePolicy(t.Context(), &iam.PutRolePolicyInput{RoleName: aws.String("kmswatch-dev-task"),
		PolicyName: aws.String("task"), PolicyDocument: aws.String(taskPolicy)}); err != nil {
		t.Fatal(err)
	}
	cfg := awsdouble.ClientConfigFor(srv.URL, mustSession(t, d, "arn:aws:iam::111122223333:role/kmswatch-dev-responder", "kmswatch-dev-responder"), "")
	stack := responder.Stack{
		Mode: responder.ModeContain, TaskRoleName: "kmswatch-dev-task", TaskRoleARN: doubleTaskRole,
		Cluster: "kmswatch-dev", Service: "app", AppKeyARN: h.appKey.ARN, AuditKeyARN: h.auditKey.ARN,
		ContainOnAlarms: []string{volumeAlarm}, ContainmentInterval: time.Hour,
	}
	h.Executor = &Executor{
		Stack: stack, IAM: iam.NewFromConfig(cfg), ECS: ecs.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg),
		Store:    dynamodb.Store{Client: awsdynamodb.NewFromConfig(cfg), Table: table},
		TopicARN: topicARN, Table: table, Now: clock.Now,
	}
	return h
}

func mustSession(t *testing.T, d *awsdouble.Server, roleARN, name string) awsdouble.Credentials {
	t.Helper()
	sess, err := d.AssumeRole(roleARN, name)
	if err != nil {
		t.Fatal(err)
	}
	return sess.Credentials
}

type doubleClients struct {
	IAM *iam.Client
	KMS *kms.Client
}

func (h *doubleHarness) clientsFrom(creds awsdouble.Credentials, ip string) doubleClients {
	cfg := awsdouble.ClientConfigFor(h.url, creds, ip)
	return doubleClients{IAM: iam.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg)}
}

func errorCodeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// lastRecordOf is the newest trail record of eventName, as written and decoded.
func lastRecordOf(t *testing.T, d *awsdouble.Server, eventName string) (json.RawMessage, map[string]any) {
	t.Helper()
	recs := d.Records()
	for i := len(recs) - 1; i >= 0; i-- {
		var r map[string]any
		if err := json.Unmarshal(recs[i], &r); err != nil {
			t.Fatal(err)
		}
		if r["eventName"] == eventName {
			return recs[i], r
		}
	}
	t.Fatalf("no %s record", eventName)
	return nil, nil
}

func TestContainmentOnTheDoubleRefusesStolenCredentialsAndReleaseRestoresIAM(t *testing.T) {
	h := newDoubleHarness(t)
	ctx := t.Context()
	app := h.clientsFrom(h.double.Tasks("kmswatch-dev", "app")[0].Session.Credentials, "")
	blob, err := app.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(h.appKey.ARN), Plaintext: []byte("Hello, KMS")})
	if err != nil {
		t.Fatal(err)
	}
	stolen := h.clientsFrom(h.double.Tasks("kmswatch-dev", "app")[0].Session.Credentials, attackerIP)
	if _, err := stolen.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob}); err != nil {
		t.Fatalf("before containment the copy decrypts: %v", err)
	}
	policiesBefore := h.double.RolePolicies("kmswatch-dev-task")
	keysBefore := [2]string{h.double.KeyState(h.appKey.ID), h.double.KeyState(h.auditKey.ID)}

	h.clock.advance(7 * time.Minute)
	rec, err := h.Handle(ctx, alarmEvent(volumeAlarm, "ALARM", h.clock.Now()))
	if err != nil || rec.Status != responder.StatusContained {
		t.Fatalf("Handle: %v, status %s: %s", err, rec.Status, rec.Plan.Why)
	}
	stored, err := h.Store.Get(ctx, rec.ID)
	if err != nil || stored.Plan.Trigger.Alarm.AlarmName != volumeAlarm || stored.Plan.Actions[0].Undo.Kind != responder.UndoDeletePolicy ||
		!strings.Contains(stored.Plan.Why, volumeAlarm) || !stored.Announced {
		t.Errorf("the record in the table: %+v, %v", stored, err)
	}

	h.clock.advance(time.Second)
	_, err = stolen.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	_, refusal := lastRecordOf(t, h.double, "Decrypt")
	if errorCodeOf(err) != "AccessDeniedException" || refusal["errorCode"] != "AccessDeniedException" || refusal["sourceIPAddress"] != attackerIP {
		t.Errorf("the stolen copy after containment: %v; trail errorCode %v from %v", err, refusal["errorCode"], refusal["sourceIPAddress"])
	}
	fresh := h.clientsFrom(h.double.Tasks("kmswatch-dev", "app")[0].Session.Credentials, "")
	if out, err := fresh.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob}); err != nil || string(out.Plaintext) != "Hello, KMS" {
		t.Errorf("the new task: %v", err)
	}
	msgs := h.double.Messages(h.TopicARN)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "CONTAINED") || !strings.Contains(msgs[0].Message, responder.ReleaseCommand(table, rec.ID)) {
		t.Errorf("announcements: %+v", msgs)
	}

	// Half an hour on, within the role's maximum session duration (an hour) of the revocation,
	// release refuses, as lifting the deny would let the copy back in.
	h.clock.advance(30 * time.Minute)
	if _, err := h.Release(ctx, rec.ID, false, false); !errors.Is(err, responder.ErrSessionsLive) || !strings.Contains(err.Error(), "--early") {
		t.Fatalf("Release within the maximum session duration of the revocation: %v, want ErrSessionsLive naming --early", err)
	}
	if got := h.double.RolePolicies("kmswatch-dev-task"); maps.Equal(got, policiesBefore) {
		t.Fatal("the refused release changed the role's policies")
	}
	h.clock.advance(30 * time.Minute)
	if _, err := h.Release(ctx, rec.ID, false, false); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if after := h.double.RolePolicies("kmswatch-dev-task"); !maps.Equal(after, policiesBefore) {
		t.Errorf("the role's inline policies after release\n  %v\nbefore containment\n  %v", after, policiesBefore)
	}
	if after := [2]string{h.double.KeyState(h.appKey.ID), h.double.KeyState(h.auditKey.ID)}; after != keysBefore {
		t.Errorf("key states %v, before %v", after, keysBefore)
	}
}

func TestAScheduledDeletionOnTheDoubleIsCancelledAndTheAuditKeyIsLeftAlone(t *testing.T) {
	h := newDoubleHarness(t)
	ctx := t.Context()
	user := h.double.AddUser("dev-admin")
	admin := h.clientsFrom(user.Credentials, "203.0.113.50")
	for _, key := range []string{h.appKey.ARN, h.auditKey.ARN} {
		if _, err := admin.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(key), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		raw, _ := lastRecordOf(t, h.double, "ScheduleKeyDeletion")
		event, err := rules.EventBridgeEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := h.Handle(ctx, event)
		if err != nil {
			t.Fatalf("Handle %s: %v", key, err)
		}
		want := responder.DecideProtectKey
		if key == h.auditKey.ARN {
			want = responder.DecideReport
		}
		if rec.Plan.Decision != want || rec.Plan.Trigger.Call.Caller != user.ARN {
			t.Errorf("%s: decision %s by %s, want %s by %s", key, rec.Plan.Decision, rec.Plan.Trigger.Call.Caller, want, user.ARN)
		}
	}
	if app, audit := h.double.KeyState(h.appKey.ID), h.double.KeyState(h.auditKey.ID); app != "Disabled" || audit != "PendingDeletion" {
		t.Errorf("app key %s (want Disabled, as CancelKeyDeletion leaves it), audit key %s (want untouched)", app, audit)
	}
	if n := h.double.Calls("CancelKeyDeletion"); n != 1 {
		t.Errorf("%d CancelKeyDeletion calls, want one, on the app key", n)
	}
	msgs := h.double.Messages(h.TopicARN)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "KEY DELETION CANCELLED: ScheduleKeyDeletion by user/dev-admin") ||
		!strings.Contains(msgs[0].Message, "aws kms enable-key --key-id "+h.appKey.ARN) {
		t.Errorf("announcements: %+v", msgs)
	}
}

// alarmEvent is a CloudWatch alarm action's payload at time at.
func alarmEvent(name, state string, at time.Time) []byte {
	ts := at.UTC().Format("2006-01-02T15:04:05.000-0700")
	return []byte(`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:us-east-1:111122223333:alarm:` + name + `",
"accountId":"111122223333","time":"` + ts + `","region":"us-east-1",
"alarmData":{"alarmName":"` + name + `","state":{"value":"` + state + `","reason":"Threshold Crossed","timestamp":"` + ts + `"},
"previousState":{"value":"OK","reason":"","timestamp":"` + ts + `"}}}`)
}
