package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// notifiedBy names, for each rule that notifies through EventBridge, the event in
// testdata/eventbridge (see its README) whose email the golden file holds.
var notifiedBy = map[string]string{
	"kms-key-policy-change":     "kms-putkeypolicy.json",
	"kms-key-disable-or-delete": "kms-disablekey.json",
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var placeholder = regexp.MustCompile(`<([^<>]*)>`)

// TestNotificationEmails pins, in testdata/emails/<rule>.txt, the text SNS mails for each rule
// that notifies at once: Render of the rule's input transformer on the rule's event. The README
// shows these files; `go test -update` rewrites them.
func TestNotificationEmails(t *testing.T) {
	for _, r := range Default() {
		if _, ok := r.EventPattern(Params{}); !ok {
			continue
		}
		file, ok := notifiedBy[r.ID]
		if !ok {
			t.Errorf("%s notifies through EventBridge but has no event in notifiedBy", r.ID)
			continue
		}
		t.Run(r.ID, func(t *testing.T) {
			n := r.Notification()
			if err := n.Validate(); err != nil {
				t.Fatal(err)
			}
			if n.Form() != PlainText {
				t.Errorf("template form %s, want plain text, which arrives as lines", n.Form())
			}
			used := map[string]bool{}
			for _, m := range placeholder.FindAllStringSubmatch(n.InputTemplate, -1) {
				used[m[1]] = true
				if _, ok := n.InputPaths[m[1]]; !ok {
					t.Errorf("<%s> names no input path: it would arrive as written", m[1])
				}
			}
			for name := range n.InputPaths {
				if !used[name] {
					t.Errorf("input path %s is not used in the template", name)
				}
			}
			event := mustReadFile(t, filepath.Join("testdata", "eventbridge", file))
			if pattern, _ := r.EventPattern(Params{}); !eventMatches(t, pattern, event) {
				t.Fatalf("the rule's event pattern does not match %s, so no email would be sent", file)
			}
			text, err := n.Render(event)
			if err != nil {
				t.Fatal(err)
			}
			var ev struct {
				Detail struct {
					EventName, SourceIPAddress, UserAgent, EventTime string
					UserIdentity                                     struct{ ARN string }
					RequestParameters                                struct{ KeyID string }
				}
			}
			if err := json.Unmarshal(event, &ev); err != nil {
				t.Fatal(err)
			}
			d := ev.Detail
			for _, want := range []string{
				strings.ToUpper(string(r.Severity)) + ": " + r.Title + " (" + r.ID + ")\n",
				"\nWho:     " + d.UserIdentity.ARN + "\n",
				"\nAction:  " + d.EventName + "\n",
				"\nKey:     " + d.RequestParameters.KeyID + "\n",
				"\nFrom:    " + d.SourceIPAddress + " (" + d.UserAgent + ")\n",
				"\nWhen:    " + d.EventTime + "\n",
				"\nWhat to do: " + r.Runbook + "\n",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("email lacks %q:\n%s", want, text)
				}
			}
			checkGolden(t, filepath.Join("testdata", "emails", r.ID+".txt"), text)
		})
	}
}

func eventMatches(t *testing.T, pattern string, event []byte) bool {
	t.Helper()
	var p map[string]any
	var e any
	if err := json.Unmarshal([]byte(pattern), &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(event, &e); err != nil {
		t.Fatal(err)
	}
	return ebMatches(p, e)
}

// The EventBridge fixtures wrap their CloudTrail records unchanged, and EventBridgeEvent (which
// rehearse uses) wraps a record as the fixtures do, but for the id.
func TestEventBridgeFixturesWrapTheirRecords(t *testing.T) {
	for _, file := range notifiedBy {
		record := mustReadSample(t, file)
		var fixture, wrapped, rec map[string]any
		for _, x := range []struct {
			data []byte
			into *map[string]any
		}{{mustReadFile(t, filepath.Join("testdata", "eventbridge", file)), &fixture}, {record, &rec}} {
			if err := json.Unmarshal(x.data, x.into); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		}
		if !reflect.DeepEqual(fixture["detail"], rec) {
			t.Errorf("%s: detail is not the record in %s", file, samplesDir)
		}
		ev, err := EventBridgeEvent(record)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ev, &wrapped); err != nil {
			t.Fatal(err)
		}
		if wrapped["id"] != rec["eventID"] {
			t.Errorf("%s: EventBridgeEvent id %v, want the record's eventID", file, wrapped["id"])
		}
		delete(wrapped, "id")
		delete(fixture, "id")
		if !reflect.DeepEqual(wrapped, fixture) {
			t.Errorf("%s: EventBridgeEvent gives\n%v\nthe fixture is\n%v", file, wrapped, fixture)
		}
	}
}

// An alias call names its key targetKeyId and carries aliasName; the email shows both. (The
// record is written here, shaped as the KMS Developer Guide's UpdateAlias entry: no AWS sample
// of it is in testdata.)
func TestNotificationOfAnAliasChange(t *testing.T) {
	r, _ := Lookup("kms-key-policy-change")
	record := []byte(`{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"UpdateAlias","awsRegion":"us-east-1",` +
		`"recipientAccountId":"111122223333","eventID":"e1","userIdentity":{"arn":"arn:aws:iam::111122223333:user/Bob"},` +
		`"requestParameters":{"aliasName":"alias/kmswatch-app","targetKeyId":"0987dcba-09fe-87dc-65ba-ab0987654321"}}`)
	event, err := EventBridgeEvent(record)
	if err != nil {
		t.Fatal(err)
	}
	text, err := r.Notification().Render(event)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nKey:     0987dcba-09fe-87dc-65ba-ab0987654321\n", "\nAlias:   alias/kmswatch-app\n", "\nAction:  UpdateAlias\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("email lacks %q:\n%s", want, text)
		}
	}
}
