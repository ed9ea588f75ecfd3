package responder

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TriggerKind says what invoked the responder.
type TriggerKind string

const (
	// AlarmTrigger: a CloudWatch alarm's Lambda action, on a state change.
	AlarmTrigger TriggerKind = "alarm"
	// APICallTrigger: an EventBridge rule matching an "AWS API Call via CloudTrail" event.
	APICallTrigger TriggerKind = "api-call"
)

// Trigger is the invocation, reduced to what Decide reads and the record keeps.
type Trigger struct {
	Kind  TriggerKind
	Alarm AlarmChange // Kind == AlarmTrigger
	Call  APICall     // Kind == APICallTrigger
}

// AlarmChange is a CloudWatch alarm's state change as its Lambda action delivers it.
type AlarmChange struct {
	AlarmARN, AlarmName  string
	State, PreviousState string // OK, ALARM, INSUFFICIENT_DATA
	Reason               string
	Time                 time.Time
}

// APICall is the CloudTrail record inside an EventBridge event.
type APICall struct {
	EventID, EventName, EventSource string
	Caller                          string // userIdentity.arn
	SourceIP                        string
	ErrorCode                       string
	KeyARNs                         []string // resources[].ARN of the keys, else responseElements.keyId
	PendingWindowDays               int
	Time                            time.Time
}

// Source names what fired, for people: the alarm or the API call.
func (t Trigger) Source() string {
	if t.Kind == AlarmTrigger {
		return "alarm " + t.Alarm.AlarmName
	}
	return t.Call.EventName + " by " + t.Call.Caller
}

// ErrUnknownTrigger: the payload is neither shape; the Lambda fails so that the event is retried
// and, after Lambda's retries, sent with its payload to the alert topic, the function's on-failure
// destination (infra/response.go), as well as counted in its error metric and log.
var ErrUnknownTrigger = errors.New("neither a CloudWatch alarm action nor an EventBridge CloudTrail event")

// alarmPayload is the event a CloudWatch alarm sends to a Lambda action.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html
type alarmPayload struct {
	Source    string `json:"source"` // "aws.cloudwatch"
	AlarmARN  string `json:"alarmArn"`
	AlarmData struct {
		AlarmName     string     `json:"alarmName"`
		State         alarmState `json:"state"`
		PreviousState alarmState `json:"previousState"`
	} `json:"alarmData"`
}

type alarmState struct {
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	Timestamp string `json:"timestamp"`
}

// cloudTrailEvent is EventBridge's envelope of a CloudTrail record.
// https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudtrail.html
type cloudTrailEvent struct {
	DetailType string `json:"detail-type"` // "AWS API Call via CloudTrail"
	Detail     struct {
		EventID      string `json:"eventID"`
		EventName    string `json:"eventName"`
		EventSource  string `json:"eventSource"`
		EventTime    string `json:"eventTime"`
		SourceIP     string `json:"sourceIPAddress"`
		ErrorCode    string `json:"errorCode"`
		UserIdentity struct {
			ARN string `json:"arn"`
		} `json:"userIdentity"`
		RequestParameters struct {
			PendingWindowInDays int `json:"pendingWindowInDays"`
		} `json:"requestParameters"`
		ResponseElements struct {
			KeyID string `json:"keyId"`
		} `json:"responseElements"`
		Resources []struct {
			Type string `json:"type"`
			ARN  string `json:"ARN"`
		} `json:"resources"`
	} `json:"detail"`
}

// ParseTrigger reads a Lambda invocation payload.
func ParseTrigger(payload []byte) (Trigger, error) {
	var probe struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return Trigger{}, fmt.Errorf("%w: %w", ErrUnknownTrigger, err)
	}
	switch {
	case probe.Source == "aws.cloudwatch" && probe.DetailType == "":
		return parseAlarm(payload)
	case probe.DetailType == "AWS API Call via CloudTrail":
		return parseAPICall(payload)
	}
	return Trigger{}, fmt.Errorf("%w (source %q, detail-type %q)", ErrUnknownTrigger, probe.Source, probe.DetailType)
}

func parseAlarm(payload []byte) (Trigger, error) {
	var p alarmPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return Trigger{}, fmt.Errorf("alarm payload: %w", err)
	}
	if p.AlarmData.AlarmName == "" || p.AlarmData.State.Value == "" {
		return Trigger{}, errors.New("alarm payload: no alarmData.alarmName or alarmData.state.value")
	}
	return Trigger{Kind: AlarmTrigger, Alarm: AlarmChange{
		AlarmARN:      p.AlarmARN,
		AlarmName:     p.AlarmData.AlarmName,
		State:         p.AlarmData.State.Value,
		PreviousState: p.AlarmData.PreviousState.Value,
		Reason:        p.AlarmData.State.Reason,
		Time:          parseAlarmTime(p.AlarmData.State.Timestamp),
	}}, nil
}

// parseAlarmTime reads CloudWatch's "2023-08-04T12:36:15.490+0000"; zero when absent or other.
func parseAlarmTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func parseAPICall(payload []byte) (Trigger, error) {
	var e cloudTrailEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return Trigger{}, fmt.Errorf("EventBridge event: %w", err)
	}
	d := e.Detail
	if d.EventName == "" || d.EventSource == "" {
		return Trigger{}, errors.New("EventBridge event: no detail.eventName or detail.eventSource")
	}
	call := APICall{
		EventID: d.EventID, EventName: d.EventName, EventSource: d.EventSource,
		Caller: d.UserIdentity.ARN, SourceIP: d.SourceIP, ErrorCode: d.ErrorCode,
		PendingWindowDays: d.RequestParameters.PendingWindowInDays,
	}
	if t, err := time.Parse(time.RFC3339, d.EventTime); err == nil {
		call.Time = t.UTC()
	}
	for _, r := range d.Resources {
		// Older records (eventVersion 1.02) carry no type: a key ARN is arn:<partition>:kms:<region>:<account>:key/<id>.
		if r.Type == "AWS::KMS::Key" || (r.Type == "" && isKeyARN(r.ARN)) {
			call.KeyARNs = append(call.KeyARNs, r.ARN)
		}
	}
	if len(call.KeyARNs) == 0 && isKeyARN(d.ResponseElements.KeyID) {
		call.KeyARNs = []string{d.ResponseElements.KeyID}
	}
	return Trigger{Kind: APICallTrigger, Call: call}, nil
}

func isKeyARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" && strings.HasPrefix(parts[5], "key/")
}
