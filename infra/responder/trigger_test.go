package responder

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseTriggerReadsTheAlarmAction(t *testing.T) {
	tr := mustParse(t, alarmEvent("kmswatch-dev-app-decrypt-volume", "ALARM"))
	a := tr.Alarm
	if tr.Kind != AlarmTrigger || a.AlarmName != "kmswatch-dev-app-decrypt-volume" || a.State != "ALARM" || a.PreviousState != "OK" ||
		a.AlarmARN != "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:kmswatch-dev-app-decrypt-volume" {
		t.Errorf("alarm trigger %+v", tr)
	}
	if want := time.Date(2026, 11, 26, 10, 14, 58, 490e6, time.UTC); !a.Time.Equal(want) {
		t.Errorf("state time %s, want %s", a.Time, want)
	}
}

func TestParseTriggerReadsTheAWSSampleScheduleKeyDeletion(t *testing.T) {
	tr := mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-schedulekeydeletion.json", "")))
	c := tr.Call
	if tr.Kind != APICallTrigger || c.EventName != "ScheduleKeyDeletion" || c.EventSource != "kms.amazonaws.com" ||
		c.Caller != "arn:aws:iam::111122223333:user/Alice" || c.SourceIP != "192.0.2.0" || c.PendingWindowDays != 20 ||
		c.EventID != "3c4226b0-1e81-48a8-a333-7fa5f3cbd118" {
		t.Errorf("api call %+v", c)
	}
	if want := []string{"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}; !slices.Equal(c.KeyARNs, want) {
		t.Errorf("keys %v, want %v", c.KeyARNs, want)
	}
}

func TestParseTriggerRefusesOtherPayloads(t *testing.T) {
	for name, payload := range map[string]string{
		"not JSON":                    `{"source":`,
		"an SNS notification":         `{"Records":[{"EventSource":"aws:sns"}]}`,
		"another EventBridge event":   `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`,
		"an empty object":             `{}`,
		"an alarm without its data":   `{"source":"aws.cloudwatch","alarmArn":"x"}`,
		"a CloudTrail event, no name": `{"detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"kms.amazonaws.com"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if tr, err := ParseTrigger([]byte(payload)); err == nil {
				t.Errorf("accepted as %+v", tr)
			}
		})
	}
	if _, err := ParseTrigger([]byte(`{}`)); !errors.Is(err, ErrUnknownTrigger) {
		t.Errorf("an unknown shape is %v, want ErrUnknownTrigger", err)
	}
}

func TestRecordIDIsTheSameForARetryOfOneInvocation(t *testing.T) {
	alarm := mustParse(t, alarmEvent("kmswatch-dev-app-decrypt-volume", "ALARM"))
	first, retry := RecordID(alarm, testNow), RecordID(alarm, testNow.Add(3*time.Minute))
	if first != retry {
		t.Errorf("a retry gets %s, the first invocation %s", retry, first)
	}
	if first[:16] != "20261126T101458Z" {
		t.Errorf("id %s does not start with the alarm's state time", first)
	}
	call := mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-schedulekeydeletion.json", "")))
	if RecordID(call, testNow) == first || RecordID(call, testNow) != RecordID(call, testNow.Add(time.Hour)) {
		t.Error("an API call's id must come from its eventID, and differ from the alarm's")
	}
	noID := call
	noID.Call.EventID = ""
	if RecordID(noID, testNow) == RecordID(noID, testNow.Add(time.Second)) {
		t.Error("without an eventID two invocations must not share a record")
	}
}
