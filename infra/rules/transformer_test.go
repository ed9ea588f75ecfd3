package rules

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// docEC2Event is the example event of "Amazon EventBridge input transformation".
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
const docEC2Event = `{
  "version": "0",
  "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "123456789012",
  "time": "2015-11-11T21:29:54Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  "detail": {"instance-id": "i-0123456789", "state": "RUNNING"}
}`

// docEC2Paths are that page's input paths, but for $.resources[0]: bracket notation is what the
// API reference rules out ("You must use JSON dot notation, not bracket notation").
var docEC2Paths = map[string]string{"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}

func mustRender(t *testing.T, tr InputTransformer, event string) string {
	t.Helper()
	out, err := tr.Render([]byte(event))
	if err != nil {
		t.Fatalf("Render(%q): %v", tr.InputTemplate, err)
	}
	return out
}

// The page's examples whose output is text, character for character.
func TestRenderDeliversStringTemplatesAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name, template, want string
		form                 TemplateForm
	}{
		{"Simple string", `"instance <instance> is in <state>"`, `"instance i-0123456789 is in RUNNING"`, JSONString},
		{"String with escaped quotes", `"instance \"<instance>\" is in <state>"`, `"instance \"i-0123456789\" is in RUNNING"`, JSONString},
		// The API reference's template, in plain text.
		{"plain text (API reference)", `<instance> is in state <state>`, `i-0123456789 is in state RUNNING`, PlainText},
		// "If you specify a variable to match a JSON path that doesn't exist in the event, that
		// variable isn't created and won't appear in the output."
		{"a path missing from the event renders as nothing", `"<nothing>instance <instance>"`, `"instance i-0123456789"`, JSONString},
		{"a placeholder that names no variable stays", `<instance> <not-a-variable>`, `i-0123456789 <not-a-variable>`, PlainText},
		// Nothing but placeholders changes: no newline is added, removed or escaped.
		{"plain text keeps its lines", "Instance: <instance>\nState: <state>\n", "Instance: i-0123456789\nState: RUNNING\n", PlainText},
		{"a JSON string keeps its \\n escapes", `"Instance: <instance>\nState: <state>"`, `"Instance: i-0123456789\nState: RUNNING"`, JSONString},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths := map[string]string{"nothing": "$.detail.nothing"}
			for k, v := range docEC2Paths {
				paths[k] = v
			}
			tr := InputTransformer{InputPaths: paths, InputTemplate: tc.template}
			if got := tr.Form(); got != tc.form {
				t.Errorf("form = %s, want %s", got, tc.form)
			}
			if got := mustRender(t, tr, docEC2Event); got != tc.want {
				t.Errorf("Render = %q, want %q", got, tc.want)
			}
		})
	}
}

// The tutorial's rule: its SNS message is the template's text in the template's quotes.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-input-transformer-tutorial.html
func TestRenderTheTutorialsMessage(t *testing.T) {
	tr := InputTransformer{InputPaths: map[string]string{"detail-type": "$.detail-type"}, InputTemplate: `"This event was of <detail-type> type."`}
	if got, want := mustRender(t, tr, `{"detail-type": "customerCreated"}`), `"This event was of customerCreated type."`; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

// The page's JSON examples. The page prints their output re-indented, so they compare as JSON.
func TestRenderJSONTemplates(t *testing.T) {
	for _, tc := range []struct{ name, template, want string }{
		{"Simple JSON", "{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}", `{"instance": "i-0123456789", "state": "RUNNING"}`},
		{"JSON with strings and variables", "{\n \"instance\" : <instance>,\n \"state\": \"<state>\",\n \"instanceStatus\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
			`{"instance": "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \"i-0123456789\" is in RUNNING"}`},
		{"JSON with a mix of variables and static information", "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}",
			`{"instance": "i-0123456789", "state": [9, "RUNNING", true], "Transformed": "Yes"}`},
		{"an object value goes in as JSON", `{"detail": <detail>}`, `{"detail": {"instance-id": "i-0123456789", "state": "RUNNING"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths := map[string]string{"detail": "$.detail"}
			for k, v := range docEC2Paths {
				paths[k] = v
			}
			tr := InputTransformer{InputPaths: paths, InputTemplate: tc.template}
			if tr.Form() != JSONObject {
				t.Errorf("form = %s, want a JSON object", tr.Form())
			}
			var got, want any
			out := mustRender(t, tr, docEC2Event)
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("rendered %q is not JSON: %v", out, err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Render = %s, want %s", out, tc.want)
			}
		})
	}
}

func TestRenderRefusesWhatItCannotModel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tr    InputTransformer
		event string
		want  string
	}{
		{"bracket notation", InputTransformer{InputPaths: map[string]string{"r": "$.resources[0]"}, InputTemplate: "<r>"}, docEC2Event, "JSON dot notation"},
		{"a wildcard", InputTransformer{InputPaths: map[string]string{"r": "$.detail.*"}, InputTemplate: "<r>"}, docEC2Event, "JSON dot notation"},
		{"a name with a dot", InputTransformer{InputPaths: map[string]string{"a.b": "$.time"}, InputTemplate: "<a.b>"}, docEC2Event, "letters, digits"},
		{"an empty template", InputTransformer{InputTemplate: ""}, docEC2Event, "1 to 8192"},
		{"a template over 8192 characters", InputTransformer{InputTemplate: strings.Repeat("x", 8193)}, docEC2Event, "1 to 8192"},
		{"an object in text", InputTransformer{InputPaths: map[string]string{"detail": "$.detail"}, InputTemplate: "detail: <detail>"}, docEC2Event, "JSON object"},
		{"an array inside a JSON string", InputTransformer{InputPaths: map[string]string{"r": "$.resources"}, InputTemplate: `{"r": "<r>"}`}, docEC2Event, "JSON array"},
		{"an event that is not JSON", InputTransformer{InputTemplate: "x"}, `{"version":`, "event:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tr.Render([]byte(tc.event))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render error = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// What the notification template used to be, a JSON string with \n escapes, would reach the inbox
// as one line in quotes, escapes and all; the plain text template arrives as lines.
func TestAJSONStringNotificationWouldArriveAsOneQuotedLine(t *testing.T) {
	r, _ := Lookup("kms-key-policy-change")
	n := r.Notification()
	asString := InputTransformer{InputPaths: n.InputPaths, InputTemplate: marshalPlain(n.InputTemplate)}
	event := mustReadFile(t, "testdata/eventbridge/kms-putkeypolicy.json")
	quoted, err := asString.Render(event)
	if err != nil {
		t.Fatal(err)
	}
	if asString.Form() != JSONString || strings.Contains(quoted, "\n") || !strings.HasPrefix(quoted, `"`) || !strings.Contains(quoted, `\nWho:`) {
		t.Errorf("a JSON string template rendered as %q", quoted)
	}
	lines, err := n.Render(event)
	if err != nil {
		t.Fatal(err)
	}
	if n.Form() != PlainText || strings.Contains(lines, `\n`) || !strings.Contains(lines, "\nWho:     arn:aws:iam::111122223333:user/Alice\n") {
		t.Errorf("the notification rendered as %q", lines)
	}
}
