package executor

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/kmswatch/kmswatch/infra/responder"
)

const (
	taskRole    = "kmswatch-task-1a2b3c4"
	otherRole   = "kmswatch-deployer"
	volumeAlarm = "kmswatch-dev-app-decrypt-volume"
	appKey      = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	auditKey    = "arn:aws:kms:eu-west-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	topic       = "arn:aws:sns:eu-west-1:123456789012:kmswatch-dev-alerts"
	table       = "kmswatch-dev-responder"
)

var start = time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC)

type harness struct {
	*Executor
	iam   *fakeIAM
	ecs   *fakeECS
	kms   *fakeKMS
	sns   *fakeSNS
	store *memStore
	clock time.Time
	logs  bytes.Buffer
}

func newHarness(t *testing.T, mode responder.Mode) *harness {
	t.Helper()
	h := &harness{
		iam:   newFakeIAM(taskRole, otherRole),
		ecs:   &fakeECS{},
		kms:   &fakeKMS{states: map[string]kmstypes.KeyState{appKey: kmstypes.KeyStateEnabled, auditKey: kmstypes.KeyStateEnabled}},
		sns:   &fakeSNS{},
		store: newMemStore(),
		clock: start,
	}
	stack := responder.Stack{
		Mode: mode, TaskRoleName: taskRole, TaskRoleARN: "arn:aws:iam::123456789012:role/" + taskRole,
		Cluster: "kmswatch-dev", Service: "app", AppKeyARN: appKey, AuditKeyARN: auditKey,
		ContainOnAlarms: []string{volumeAlarm}, ContainmentInterval: time.Hour,
	}
	if err := stack.Validate(); err != nil {
		t.Fatal(err)
	}
	h.Executor = &Executor{
		Stack: stack, IAM: h.iam, ECS: h.ecs, KMS: h.kms, SNS: h.sns, Store: h.store,
		TopicARN: topic, Table: table,
		Now: func() time.Time { return h.clock },
		Log: slog.New(slog.NewJSONHandler(&h.logs, nil)),
	}
	return h
}

// alarm is the alarm action's payload for a state change at the harness's clock.
func (h *harness) alarm(name, state string) []byte {
	ts := h.clock.Add(-2 * time.Second).Format("2006-01-02T15:04:05.000-0700")
	return []byte(`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:` + name + `",
"accountId":"123456789012","time":"` + ts + `","region":"eu-west-1",
"alarmData":{"alarmName":"` + name + `","state":{"value":"` + state + `","reason":"Threshold Crossed: 1 datapoint [1523.0] was greater than or equal to the threshold (1000.0).","timestamp":"` + ts + `"},
"previousState":{"value":"OK","reason":"","timestamp":"2026-11-26T09:00:00.000+0000"}}}`)
}

// keyEvent wraps the AWS-published CloudTrail sample of eventName (kms-schedulekeydeletion.json,
// kms-disablekey.json) in EventBridge's envelope, about key.
func keyEvent(t *testing.T, sample, key string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../rules/testdata/cloudtrail/" + sample)
	if err != nil {
		t.Fatal(err)
	}
	record := strings.ReplaceAll(string(raw), "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", key)
	return []byte(`{"version":"0","id":"6f87d04b","detail-type":"AWS API Call via CloudTrail","source":"aws.kms",` +
		`"account":"123456789012","time":"2026-11-26T10:15:00Z","region":"eu-west-1","resources":[],"detail":` + record + `}`)
}

func (h *harness) mustHandle(t *testing.T, payload []byte) responder.Record {
	t.Helper()
	rec, err := h.Handle(t.Context(), payload)
	if err != nil {
		t.Fatalf("Handle: %v\nlogs: %s", err, h.logs.String())
	}
	return rec
}
