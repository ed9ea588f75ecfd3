package rules

import (
	"encoding/json"
	"fmt"
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

// notificationPaths answer who, what, which key, from where and when for a CloudTrail event. KMS
// names the key keyId, or targetKeyId in alias calls; a call carries one of them.
var notificationPaths = map[string]string{
	"who":       "$.detail.userIdentity.arn",
	"what":      "$.detail.eventName",
	"key":       "$.detail.requestParameters.keyId",
	"targetKey": "$.detail.requestParameters.targetKeyId",
	"alias":     "$.detail.requestParameters.aliasName",
	"ip":        "$.detail.sourceIPAddress",
	"agent":     "$.detail.userAgent",
	"when":      "$.detail.eventTime",
	"account":   "$.account",
	"region":    "$.region",
	"error":     "$.detail.errorCode",
}

// Notification returns the input transformer for the rule's EventBridge target: a template of
// plain text lines, which EventBridge delivers as written with the values put in, so that the
// email SNS sends reads as lines. A JSON string template would arrive as one line in quotes with
// its \n escapes kept (see Render). A path missing from the event leaves its field empty.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
func (r Rule) Notification() InputTransformer {
	lines := []string{
		// A letter first: a template that starts with { is read as JSON, one that is a quoted
		// string is delivered with its quotes.
		fmt.Sprintf("%s: %s (%s)", strings.ToUpper(string(r.Severity)), r.Title, r.ID),
		"",
		"Who:     <who>",
		"Action:  <what>",
	}
	legend := "An empty Error means the call succeeded."
	if r.watchesAliases() {
		lines = append(lines, "Key:     <key><targetKey>", "Alias:   <alias>")
		legend = "An empty Error means the call succeeded; an empty Alias, that it was no alias change."
	} else {
		lines = append(lines, "Key:     <key>")
	}
	lines = append(lines,
		"Error:   <error>",
		"From:    <ip> (<agent>)",
		"When:    <when>",
		"Account: <account>, region <region>",
		"",
		"What to do: "+r.Runbook,
		"",
		legend,
	)
	template := strings.Join(lines, "\n")
	paths := map[string]string{}
	for name, path := range notificationPaths {
		if strings.Contains(template, "<"+name+">") {
			paths[name] = path
		}
	}
	return InputTransformer{InputPaths: paths, InputTemplate: template}
}

// watchesAliases reports whether the rule matches alias calls (DeleteAlias, UpdateAlias).
func (r Rule) watchesAliases() bool {
	for _, c := range r.when {
		if c.field != fieldName {
			continue
		}
		for _, v := range c.values {
			if strings.HasSuffix(v, "Alias") {
				return true
			}
		}
	}
	return false
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
