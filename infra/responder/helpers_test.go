package responder

import (
	"os"
	"strings"
	"testing"
	"time"
)

var (
	testNow   = time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC)
	testStack = Stack{
		Mode:                ModeContain,
		TaskRoleName:        "kmswatch-task-1a2b3c4",
		TaskRoleARN:         "arn:aws:iam::123456789012:role/kmswatch-task-1a2b3c4",
		Cluster:             "kmswatch-dev",
		Service:             "app",
		AppKeyARN:           "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		AuditKeyARN:         "arn:aws:kms:eu-west-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321",
		ContainOnAlarms:     []string{"kmswatch-dev-app-decrypt-volume"},
		ContainmentInterval: time.Hour,
	}
)

// alarmPayload is the CloudWatch guide's Lambda-action example with the stack's alarm.
func alarmEvent(name, state string) []byte {
	return []byte(`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:` + name + `",
"accountId":"123456789012","time":"2026-11-26T10:14:58.490+0000","region":"eu-west-1",
"alarmData":{"alarmName":"` + name + `","state":{"value":"` + state + `","reason":"Threshold Crossed: 1 datapoint [1523.0 (26/11/26 10:09:00)] was greater than or equal to the threshold (1000.0).","timestamp":"2026-11-26T10:14:58.490+0000"},
"previousState":{"value":"OK","reason":"","timestamp":"2026-11-26T09:00:00.000+0000"},
"configuration":{"description":"[high] ...","metrics":[]}}}`)
}

// apiCallEvent wraps a CloudTrail record in EventBridge's envelope, as the default bus delivers it.
func apiCallEvent(t *testing.T, record string) []byte {
	t.Helper()
	return []byte(`{"version":"0","id":"6f87d04b-9f74-4f04-a780-7acf4b0a9b38","detail-type":"AWS API Call via CloudTrail",
"source":"aws.kms","account":"123456789012","time":"2026-11-26T10:15:00Z","region":"eu-west-1","resources":[],"detail":` + record + `}`)
}

// sampleRecord reads an AWS-published CloudTrail record from the rules' fixtures, with the
// sample's key ARN replaced by key (empty keeps it).
func sampleRecord(t *testing.T, name, key string) string {
	t.Helper()
	raw, err := os.ReadFile("../rules/testdata/cloudtrail/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	if key != "" {
		s = strings.ReplaceAll(s, "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", key)
	}
	return s
}

func mustParse(t *testing.T, payload []byte) Trigger {
	t.Helper()
	tr, err := ParseTrigger(payload)
	if err != nil {
		t.Fatalf("ParseTrigger: %v", err)
	}
	return tr
}
