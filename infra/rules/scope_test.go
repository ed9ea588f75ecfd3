package rules

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseKeyRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind KeyRefKind
		name string
		bad  string // in the error when refused
	}{
		{in: exampleKeyARN, kind: KeyARN, name: "1234abcd-12ab-34cd-56ef-1234567890ab"},
		{in: "1234abcd-12ab-34cd-56ef-1234567890ab", kind: KeyID, name: "1234abcd-12ab-34cd-56ef-1234567890ab"},
		{in: "mrk-1234abcd12ab34cd56ef1234567890ab", kind: KeyID, name: "mrk-1234abcd12ab34cd56ef1234567890ab"},
		{in: "alias/ExampleAlias", kind: AliasName, name: "ExampleAlias"},
		{in: "arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias", kind: AliasARN, name: "ExampleAlias"},
		{in: "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", kind: KeyARN, name: "1234abcd-12ab-34cd-56ef-1234567890ab"},
		{in: "", bad: "want a key ARN"},
		{in: "1234abcd", bad: "want a key ARN"},
		{in: "alias/", bad: "an alias name is alias/"},
		{in: "alias/has space", bad: "an alias name is alias/"},
		{in: "arn:aws:iam::111122223333:role/x", bad: "a KMS ARN is"},
		{in: "arn:aws:kms:us-east-2:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab", bad: "not 12 digits"},
		{in: "arn:aws:kms:nowhere:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", bad: "not one like us-east-1"},
		{in: "arn:aws:kms:us-east-2:111122223333:key/not-a-key-id", bad: "neither key/ID"},
	} {
		k, err := ParseKeyRef(tc.in)
		switch {
		case tc.bad != "":
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("ParseKeyRef(%q) = %+v, %v; want an error saying %q", tc.in, k, err, tc.bad)
			}
		case err != nil || k.Kind != tc.kind || k.Name != tc.name:
			t.Errorf("ParseKeyRef(%q) = %+v, %v; want kind %d name %s", tc.in, k, err, tc.kind, tc.name)
		}
	}
}

func TestRoleScope(t *testing.T) {
	for _, tc := range []struct{ in, role, note, bad string }{
		{in: labTaskRole, role: labTaskRole},
		{in: "arn:aws:iam::111122223333:role/service-role/app", role: "arn:aws:iam::111122223333:role/service-role/app"},
		{in: "arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/ecs-task-4f0c2a", role: labTaskRole, note: "a session of role pattern1-application-Pattern1ECSTaskRole"},
		{in: "pattern1", bad: "want a role ARN"},
		{in: "arn:aws:iam::111122223333:user/Alice", bad: "want a role ARN"},
		{in: "arn:aws:sts::111122223333:assumed-role/only-a-name", bad: "want a role ARN"},
		{in: "arn:aws:iam::12:role/x", bad: "want a role ARN"},
	} {
		role, note, err := RoleScope(tc.in)
		switch {
		case tc.bad != "":
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("RoleScope(%q) = %q, %v; want an error", tc.in, role, err)
			}
		case err != nil || role != tc.role || !strings.Contains(note, tc.note) || (tc.note == "") != (note == ""):
			t.Errorf("RoleScope(%q) = %q, %q, %v; want %q with a note %q", tc.in, role, note, err, tc.role, tc.note)
		}
	}
}

// The role of a session ARN matches the sessions' records: the lab's record is by a session of
// the task role, and its userIdentity.arn is what a person copies from it.
func TestReplayWithASessionARNMatchesTheRole(t *testing.T) {
	role, _, err := RoleScope("arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/other-session")
	if err != nil {
		t.Fatal(err)
	}
	res := ReplayData("lab.json", mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json"), ReplayOptions{Params: Params{TaskRoleARN: role}})
	if got := matchedIDs(res); len(got) != 1 || got[0] != "app-kms-errors Decrypt" {
		t.Errorf("matches = %v", got)
	}
}

func TestKeyScopeResolves(t *testing.T) {
	refs := func(values ...string) []KeyRef {
		var out []KeyRef
		for _, v := range values {
			k, err := ParseKeyRef(v)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		return out
	}
	p, notes := KeyScope(refs("1234abcd-12ab-34cd-56ef-1234567890ab"), "111122223333", "us-west-2")
	if !slices.Equal(p.KeyARNs, []string{exampleKeyARN}) || len(p.KeyIDs) > 0 || len(notes) != 1 || !strings.Contains(notes[0], "matched as "+exampleKeyARN) {
		t.Errorf("id with account and Region: %+v, %q", p, notes)
	}
	p, notes = KeyScope(refs("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/ExampleAlias"), "", "")
	if len(p.KeyARNs) > 0 || !slices.Equal(p.KeyIDs, []string{"1234abcd-12ab-34cd-56ef-1234567890ab"}) ||
		!slices.Equal(p.KeyAliases, []string{"alias/ExampleAlias"}) || len(notes) != 2 ||
		!strings.Contains(notes[0], "any key ARN ending in key/1234abcd") || !strings.Contains(notes[1], "cannot be resolved offline") {
		t.Errorf("id and alias alone: %+v, %q", p, notes)
	}
	p, _ = KeyScope(refs("arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"), "", "")
	if len(p.KeyARNs) != 1 || !strings.HasPrefix(p.KeyARNs[0], "arn:aws-cn:kms:cn-north-1:") {
		t.Errorf("China key ARN: %+v", p)
	}
	if arn, _ := KeyScope(refs("1234abcd-12ab-34cd-56ef-1234567890ab"), "111122223333", "cn-north-1"); !strings.HasPrefix(arn.KeyARNs[0], "arn:aws-cn:") {
		t.Errorf("an id in a China Region: %+v", arn)
	}
}

// TestDisableOrDeleteHonoursKeys: the CIS rule's key scope holds in replay, whatever the form
// the key is given in, while its deployed filter stays the CIS text.
func TestDisableOrDeleteHonoursKeys(t *testing.T) {
	disable := mustReadSample(t, "kms-disablekey.json") // keyId 1234abcd-..., resources in us-west-2
	otherID := "0987dcba-09fe-87dc-65ba-ab0987654321"
	for _, tc := range []struct {
		name string
		p    Params
		want bool
	}{
		{"no keys: every key", Params{}, true},
		{"its key ARN", Params{KeyARNs: []string{exampleKeyARN}}, true},
		{"its bare id", Params{KeyIDs: []string{"1234abcd-12ab-34cd-56ef-1234567890ab"}}, true},
		{"another key ARN", Params{KeyARNs: []string{"arn:aws:kms:us-west-2:111122223333:key/" + otherID}}, false},
		{"another bare id", Params{KeyIDs: []string{otherID}}, false},
		{"an alias alone", Params{KeyAliases: []string{"alias/ExampleAlias"}}, false},
	} {
		res := ReplayData("disable.json", disable, ReplayOptions{Params: tc.p})
		if got := slices.Contains(matchedIDs(res), "kms-key-disable-or-delete DisableKey"); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
	r, _ := Lookup("kms-key-disable-or-delete")
	if got := r.FilterPattern(Params{KeyARNs: []string{exampleKeyARN}}); got != cisPattern {
		t.Errorf("keyed filter pattern = %s, want the CIS text", got)
	}
	if !r.Matches(mustParse(t, disable), Params{KeyIDs: []string{otherID}}) {
		t.Error("as deployed, the CIS rule watches every key of the account")
	}
}

func TestAccountAndRegionFilters(t *testing.T) {
	env := mustReadFile(t, filepath.Join(shapesDir, "eventbridge-kms-disablekey.json"))
	var stripped map[string]any
	if err := json.Unmarshal(env, &stripped); err != nil {
		t.Fatal(err)
	}
	detail := stripped["detail"].(map[string]any)
	delete(detail, "recipientAccountId")
	delete(detail, "awsRegion")
	// A caller from another account: only the envelope says whose event it is.
	detail["userIdentity"].(map[string]any)["accountId"] = "444455556666"
	envNoAccount, _ := json.Marshal(stripped)
	dir := writeFiles(t, map[string][]byte{
		"disable.json":       mustReadSample(t, "kms-disablekey.json"), // 111122223333, us-east-1
		"eventbridge.json":   envNoAccount,                             // only the envelope says 111122223333, us-east-1
		"schedule.json":      mustReadSample(t, "kms-schedulekeydeletion.json"),
		"app.log":            []byte(`{"time":"2026-11-24T10:00:00Z","event":"decrypt_failed","reason":"kms_refused"}` + "\n"),
		"insight.json":       mustReadFile(t, filepath.Join(shapesDir, "insights-apicallrate.json")),
		"other-account.json": []byte(strings.Replace(string(mustReadSample(t, "kms-disablekey.json")), `"recipientAccountId": "111122223333"`, `"recipientAccountId": "444455556666"`, 1)),
	})
	for _, tc := range []struct {
		account, region string
		matched, out    int
	}{
		{"", "", 4, 0},
		{"111122223333", "", 3, 1},
		{"111122223333", "us-east-1", 3, 1},
		{"", "us-west-2", 0, 4},
		{"444455556666", "", 1, 3},
	} {
		res := Replay([]string{dir}, ReplayOptions{Account: tc.account, Region: tc.region})
		disables := 0
		for _, m := range res.Matches {
			if res.Rules[m.Rule].ID == "kms-key-disable-or-delete" {
				disables++
			}
		}
		if disables != tc.matched || res.Tally.OutOfScope != tc.out || res.Tally.ByShape["app log lines"] != 1 {
			t.Errorf("--account %q --region %q: %d key rule matches, %d out of scope, shapes %v; want %d and %d, the app line kept",
				tc.account, tc.region, disables, res.Tally.OutOfScope, res.Tally.ByShape, tc.matched, tc.out)
		}
	}
}

// TestKeyedEventPatternOnEveryForm wraps each keyed test record of kms-key-policy-change as
// EventBridge delivers it and checks that the deployed pattern agrees with the case.
func TestKeyedEventPatternOnEveryForm(t *testing.T) {
	r, _ := Lookup("kms-key-policy-change")
	seen := 0
	for _, c := range r.Cases() {
		if c.Record == "" || (len(c.Params.KeyARNs) == 0 && len(c.Params.KeyAliases) == 0) {
			continue
		}
		seen++
		text, _ := r.EventPattern(c.Params)
		var pattern map[string]any
		if err := json.Unmarshal([]byte(text), &pattern); err != nil {
			t.Fatal(err)
		}
		ev, err := EventBridgeEvent([]byte(c.Record))
		if err != nil {
			t.Fatal(err)
		}
		var event any
		if err := json.Unmarshal(ev, &event); err != nil {
			t.Fatal(err)
		}
		if got := ebMatches(pattern, event); got != c.Want {
			t.Errorf("%s: pattern says %v, want %v\n%s", c.Name, got, c.Want, text)
		}
	}
	if seen < 8 {
		t.Errorf("only %d keyed records: a form lacks its test", seen)
	}
}

// The stack's pattern (two keys, their aliases) fits EventBridge's default pattern size of 2,048
// characters. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
func TestKeyedEventPatternFitsTheQuota(t *testing.T) {
	p := Params{
		KeyARNs: []string{
			"arn:aws:kms:ap-southeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			"arn:aws:kms:ap-southeast-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
		},
		KeyAliases: []string{"alias/kmswatch-production-eu-app", "alias/kmswatch-production-eu-audit"},
	}
	r, _ := Lookup("kms-key-policy-change")
	text, _ := r.EventPattern(p)
	if len(text) > 2048 {
		t.Errorf("pattern is %d characters, over 2,048:\n%s", len(text), text)
	}
	for _, want := range []string{`"$or"`, `"aliasName":["alias/kmswatch-production-eu-app","alias/kmswatch-production-eu-audit"]`,
		`"arn:aws:kms:ap-southeast-2:111122223333:alias/kmswatch-production-eu-audit"`} {
		if !strings.Contains(text, want) {
			t.Errorf("pattern lacks %s:\n%s", want, text)
		}
	}
	idOnly, _ := r.EventPattern(Params{KeyIDs: []string{"1234abcd-12ab-34cd-56ef-1234567890ab"}})
	if !strings.Contains(idOnly, `{"suffix":":key/1234abcd-12ab-34cd-56ef-1234567890ab"}`) {
		t.Errorf("a bare id renders no suffix match:\n%s", idOnly)
	}
}
