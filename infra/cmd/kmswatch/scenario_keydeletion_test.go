package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/responder"
)

func TestKeyDeletionIsCancelledAndTheAuditKeyLeftToAPerson(t *testing.T) {
	l := mustLoop(t, rehearseKeyDeletion, defaultDelays())
	want := []string{"app-serves", "deletion-scheduled", "app-refused", "event-delivered", "responder-cancels",
		"deletion-scheduled", "event-delivered", "audit-key-reported", "app-disabled", "status", "release-refused", "key-enabled", "app-healthy"}
	if got := stepIDs(l); !slices.Equal(got, want) || !l.passed(keyDeletionSteps) {
		var out bytes.Buffer
		l.writeText(&out, keyDeletionAbout, keyDeletionSteps)
		t.Fatalf("steps %v, want %v, all ok:\n%s", got, want, out.String())
	}

	t.Run("the IAM user's calls, the responder's cancellation and the app's refusals are in the trail", func(t *testing.T) {
		var calls, decrypts []string
		for _, raw := range l.double.Records() {
			var r trailRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			switch r.EventName {
			case "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKey":
				who := r.UserIdentity.ARN[strings.LastIndex(r.UserIdentity.ARN, ":")+1:]
				calls = append(calls, fmt.Sprintf("%s %s by %s %s from %s", r.EventName, keyLabel(l, r.Resources[0].ARN), r.UserIdentity.Type, who, r.SourceIP))
			case "Decrypt":
				decrypts = append(decrypts, r.ErrorCode)
			}
			if strings.Contains(r.UserIdentity.ARN, ":assumed-role/kmswatch-dev-responder/") && bytes.Contains(raw, []byte(l.auditKey.ARN)) {
				t.Errorf("a responder call names the audit key: %s", raw)
			}
		}
		wantCalls := []string{
			"ScheduleKeyDeletion app by IAMUser user/dev-admin from " + adminAddress,
			"CancelKeyDeletion app by AssumedRole assumed-role/kmswatch-dev-responder/kmswatch-dev-responder from 127.0.0.1",
			"ScheduleKeyDeletion audit by IAMUser user/dev-admin from " + adminAddress,
			"EnableKey app by IAMUser user/oncall from " + personAddress,
		}
		if !slices.Equal(calls, wantCalls) {
			t.Errorf("key calls\n  %s\nwant\n  %s", strings.Join(calls, "\n  "), strings.Join(wantCalls, "\n  "))
		}
		if wantDecrypts := []string{"", "KMSInvalidStateException", "DisabledException", ""}; !slices.Equal(decrypts, wantDecrypts) {
			t.Errorf("the app's decrypts failed with %q, want %q", decrypts, wantDecrypts)
		}
	})

	t.Run("the app key is back as it was, the audit key is untouched", func(t *testing.T) {
		for _, s := range l.steps {
			if s.ID == "key-enabled" && !strings.Contains(s.Got, "key Disabled -> Enabled (before the deletion was scheduled: Enabled)") {
				t.Errorf("key-enabled: %q, want the key Disabled before EnableKey and Enabled after, as before the deletion", s.Got)
			}
		}
		if app, audit := l.double.KeyState(l.appKey.ID), l.double.KeyState(l.auditKey.ID); app != "Enabled" || audit != "PendingDeletion" {
			t.Errorf("app key %s, audit key %s; want Enabled (as before) and PendingDeletion (a person's)", app, audit)
		}
	})

	t.Run("the records and the announcement", func(t *testing.T) {
		records, err := l.person.Store.List(t.Context())
		if err != nil || len(records) != 2 {
			t.Fatalf("records %+v, %v", records, err)
		}
		byKey := map[string]responder.Record{}
		for _, r := range records {
			byKey[keyLabel(l, r.Plan.Trigger.Call.KeyARNs[0])] = r
		}
		app, audit := byKey["app"], byKey["audit"]
		if app.Plan.Decision != responder.DecideProtectKey || app.Status != responder.StatusKeyRestored || app.Plan.Actions[0].KeyARN != l.appKey.ARN ||
			app.Plan.Actions[0].Undo.Kind != responder.UndoByPerson || app.Plan.Trigger.Call.Caller != "arn:aws:iam::111122223333:user/dev-admin" {
			t.Errorf("the app key's record: %+v", app)
		}
		if audit.Plan.Decision != responder.DecideReport || audit.Status != responder.StatusReported || len(audit.Plan.Actions) != 0 || audit.Announced {
			t.Errorf("the audit key's record: %+v", audit)
		}
		msgs := l.double.Messages(l.topic)
		if len(msgs) != 1 || msgs[0].Subject != "[kmswatch responder] KEY DELETION CANCELLED: ScheduleKeyDeletion by user/dev-admin" {
			t.Fatalf("messages %+v", msgs)
		}
		for _, want := range []string{"KMS leaves a cancelled key Disabled", "the key stays Disabled until a person enables it",
			"aws kms enable-key --key-id " + l.appKey.ARN, "--pending-window-in-days 7"} {
			if !strings.Contains(msgs[0].Message, want) {
				t.Errorf("announcement lacks %q:\n%s", want, msgs[0].Message)
			}
		}
	})
}

func keyLabel(l *loop, arn string) string {
	switch arn {
	case l.appKey.ARN:
		return "app"
	case l.auditKey.ARN:
		return "audit"
	}
	return arn
}

func TestLoopScenariosOnTheCommandLine(t *testing.T) {
	r := runCLI("rehearse", "--scenario", "key-deletion", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	types := map[string]int{}
	var result map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		types[fmt.Sprint(v["type"])]++
		if v["type"] == "step" && (v["scenario"] != "key-deletion" || v["at"] == "" || v["ok"] != true) {
			t.Errorf("step line %v", v)
		}
		if v["type"] == "result" {
			result = v
		}
	}
	if types["step"] != 13 || types["result"] != 1 || result["ok"] != true {
		t.Errorf("line types %v, result %v", types, result)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rehearse", "--scenario", "nope"}, `--scenario "nope": want lab, exfiltration or key-deletion`},
		{[]string{"rehearse", "--scenario", "key-deletion", "--wrong-keys", "3"}, "--wrong-keys applies to --scenario lab only"},
		{[]string{"rehearse", "--scenario", "exfiltration", "--delivery-delay", "25h"}, "--delivery-delay 25h0m0s: must be between 0 and 24h"},
		{[]string{"rehearse", "--scenario", "exfiltration", "--metric-delay", "-1m"}, "--metric-delay -1m0s: must be between 0 and 24h"},
	} {
		if r := runCLI(tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := runCLI("rehearse", "--help"); r.code != exitOK || !strings.Contains(r.stdout, "exfiltration  the whole loop") || !strings.Contains(r.stdout, "key-deletion  an IAM user") {
		t.Errorf("help: %s", r.stdout)
	}
}
