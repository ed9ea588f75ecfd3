package rules

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// CloudTrail management events reach the default event bus with this detail-type; a trail with
// logging on is required. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html
const cloudTrailDetailType = "AWS API Call via CloudTrail"

// EventPattern renders the EventBridge event pattern for rules that notify at once: the
// EventBridge rules, and critical log rules (which keep their alarm as well). ok is false for others.
// Each condition becomes a field under "detail": equals -> ["a","b"], present -> [{"exists":true}],
// absent -> [{"exists":false}]. Arrays in events (resources) match when any element matches.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
func (r Rule) EventPattern(p Params) (string, bool) {
	if r.Source != EventBridge && !r.notify {
		return "", false
	}
	detail := map[string]any{}
	source := ""
	for _, c := range r.when {
		if c.op == opAny {
			addEventBridgeOr(detail, c, p)
			continue
		}
		values, applies := c.rendered(p)
		if !applies {
			continue
		}
		if c.field == "eventSource" && len(values) == 1 {
			source = "aws." + strings.TrimSuffix(values[0], ".amazonaws.com")
		}
		var match any
		switch c.op {
		case opPresent:
			match = []any{map[string]bool{"exists": true}}
		case opAbsent:
			match = []any{map[string]bool{"exists": false}}
		default:
			match = values
		}
		setPath(detail, strings.Split(c.field, "."), match)
	}
	pattern := map[string]any{"detail-type": []string{cloudTrailDetailType}, "detail": detail}
	if source != "" {
		pattern["source"] = []string{source}
	}
	return marshalPlain(pattern), true
}

// marshalPlain is json.Marshal without HTML escaping: "<who>" must stay "<who>" for EventBridge.
func marshalPlain(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("rules: marshal %T: %v", v, err)) // only strings, slices and maps: cannot fail
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func setPath(m map[string]any, path []string, v any) {
	for _, key := range path[:len(path)-1] {
		next, ok := m[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[key] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// InputTransformer is how an EventBridge target turns an event into the message a person reads.
type InputTransformer struct {
	InputPaths    map[string]string // variable -> JSON path in the event
	InputTemplate string            // a JSON string literal (SNS sends it as the email body) with <variable> placeholders
}

// notificationPaths answer who, what, which key, from where and when for a CloudTrail event.
var notificationPaths = map[string]string{
	"who":     "$.detail.userIdentity.arn",
	"what":    "$.detail.eventName",
	"key":     "$.detail.requestParameters.keyId",
	"alias":   "$.detail.requestParameters.aliasName",
	"ip":      "$.detail.sourceIPAddress",
	"agent":   "$.detail.userAgent",
	"when":    "$.detail.eventTime",
	"account": "$.account",
	"region":  "$.region",
	"error":   "$.detail.errorCode",
}

// Notification returns the input transformer for the rule's EventBridge target. The template is a
// JSON string so that SNS delivers plain text, one fact per line.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
func (r Rule) Notification() InputTransformer {
	paths := make(map[string]string, len(notificationPaths))
	for k, v := range notificationPaths {
		paths[k] = v
	}
	lines := []string{
		fmt.Sprintf("[%s] %s (%s)", strings.ToUpper(string(r.Severity)), r.Title, r.ID),
		"Who:   <who>",
		"What:  <what> (error: <error>)",
		"Key:   <key> <alias>",
		"From:  <ip> (<agent>)",
		"When:  <when>, account <account>, region <region>",
		"",
		"What to do: " + r.Runbook,
	}
	return InputTransformer{InputPaths: paths, InputTemplate: marshalPlain(strings.Join(lines, "\n"))}
}

// Render fills the template from an EventBridge event the way EventBridge does for a string
// template: each <variable> becomes the text at its path. A path missing from the event gives an
// empty text here. The result is the message text (the template's JSON string, decoded).
func (t InputTransformer) Render(event []byte) (string, error) {
	var ev any
	if err := json.Unmarshal(event, &ev); err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	var text string
	if err := json.Unmarshal([]byte(t.InputTemplate), &text); err != nil {
		return "", fmt.Errorf("input template is not a JSON string: %w", err)
	}
	names := make([]string, 0, len(t.InputPaths))
	for name := range t.InputPaths {
		names = append(names, name)
	}
	sort.Strings(names)
	pairs := make([]string, 0, 2*len(names))
	for _, name := range names {
		v := ev
		for _, key := range strings.Split(strings.TrimPrefix(t.InputPaths[name], "$."), ".") {
			obj, _ := v.(map[string]any)
			v = obj[key] // nil when missing
		}
		s := ""
		switch x := v.(type) {
		case nil:
		case string:
			s = x
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		pairs = append(pairs, "<"+name+">", s)
	}
	return strings.NewReplacer(pairs...).Replace(text), nil
}

// EventBridgeEvent wraps a CloudTrail record in the envelope EventBridge delivers, so that event
// patterns and input transformers can be tried offline on trail records.
func EventBridgeEvent(record []byte) ([]byte, error) {
	var rec struct {
		EventID, EventSource, RecipientAccountID, EventTime, AWSRegion string
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, err
	}
	env := map[string]any{
		"version":     "0",
		"id":          rec.EventID,
		"detail-type": cloudTrailDetailType,
		"source":      "aws." + strings.TrimSuffix(rec.EventSource, ".amazonaws.com"),
		"account":     rec.RecipientAccountID,
		"time":        rec.EventTime,
		"region":      rec.AWSRegion,
		"resources":   []string{},
		"detail":      json.RawMessage(record),
	}
	return json.Marshal(env)
}
