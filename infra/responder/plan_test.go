package responder

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const volumeAlarm = "kmswatch-dev-app-decrypt-volume"

func TestDecideContainment(t *testing.T) {
	alarm := mustParse(t, alarmEvent(volumeAlarm, "ALARM"))
	consoleRevocation := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-01T08:00:00Z"}}}}`
	dryRun, notify := testStack, testStack
	dryRun.Mode, notify.Mode = ModeDryRun, ModeNotify

	for _, tc := range []struct {
		name     string
		trigger  Trigger
		state    State
		stack    Stack
		decision Decision
		undo     UndoKind // of the revocation, when there is one
		prior    string
	}{
		{"first firing: revoke and redeploy, undo deletes the policy", alarm, State{}, testStack, DecideContain, UndoDeletePolicy, ""},
		{"a revocation already on the role: undo restores it exactly", alarm,
			State{RevokePolicy: consoleRevocation, HasRevokePolicy: true, LastContainment: testNow.Add(-2 * time.Hour)}, testStack, DecideContain, UndoRestorePolicy, consoleRevocation},
		{"a firing within the interval is rate-limited", alarm, State{LastContainment: testNow.Add(-59 * time.Minute)}, testStack, DecideRateLimited, "", ""},
		{"a firing one interval later contains again", alarm, State{LastContainment: testNow.Add(-time.Hour)}, testStack, DecideContain, UndoDeletePolicy, ""},
		{"dryRun plans the same actions", alarm, State{}, dryRun, DecideContain, UndoDeletePolicy, ""},
		{"notify only records", alarm, State{}, notify, DecideReport, "", ""},
		{"OK is no reason to act or to lift", mustParse(t, alarmEvent(volumeAlarm, "OK")), State{}, testStack, DecideIgnore, "", ""},
		{"an alarm that does not contain", mustParse(t, alarmEvent("kmswatch-dev-app-kms-errors", "ALARM")), State{}, testStack, DecideIgnore, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.trigger, tc.state, tc.stack, testNow)
			if p.Decision != tc.decision {
				t.Fatalf("decision %s (%s), want %s", p.Decision, p.Why, tc.decision)
			}
			if p.DryRun != (tc.stack.Mode == ModeDryRun) {
				t.Errorf("dry run %v in mode %s", p.DryRun, tc.stack.Mode)
			}
			if tc.decision != DecideContain {
				if len(p.Actions) != 0 {
					t.Errorf("actions %+v, want none", p.Actions)
				}
				return
			}
			if kinds := actionKinds(p); !slices.Equal(kinds, []ActionKind{RevokeSessions, ForceNewTasks}) {
				t.Fatalf("actions %v, want revoke then redeploy", kinds)
			}
			revoke, redeploy := p.Actions[0], p.Actions[1]
			if revoke.RoleName != testStack.TaskRoleName || revoke.PolicyName != RevokePolicyName {
				t.Errorf("revocation on %s/%s", revoke.RoleName, revoke.PolicyName)
			}
			if before, ok := RevokedBefore(revoke.Document); !ok || !before.Equal(testNow) {
				t.Errorf("revocation date %s (%v), want the decision time %s", before, ok, testNow)
			}
			if revoke.Undo.Kind != tc.undo || revoke.Undo.PriorDocument != tc.prior {
				t.Errorf("undo %+v, want %s with prior %q", revoke.Undo, tc.undo, tc.prior)
			}
			if redeploy.Cluster != "kmswatch-dev" || redeploy.Service != "app" || redeploy.Undo.Kind != UndoNothing {
				t.Errorf("redeploy %+v", redeploy)
			}
		})
	}
}

func TestDecideKeyEvents(t *testing.T) {
	app, audit := testStack.AppKeyARN, testStack.AuditKeyARN
	schedule := func(key string) Trigger {
		return mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-schedulekeydeletion.json", key)))
	}
	failed := schedule(app)
	failed.Call.ErrorCode = "AccessDeniedException"
	for _, tc := range []struct {
		name     string
		trigger  Trigger
		keyState string
		decision Decision
	}{
		{"ScheduleKeyDeletion on the app key is cancelled", schedule(app), "PendingDeletion", DecideProtectKey},
		{"already cancelled (Disabled): nothing to do", schedule(app), "Disabled", DecideReport},
		{"the audit key: report only, never act", schedule(audit), "PendingDeletion", DecideReport},
		{"a key outside the stack", schedule(""), "PendingDeletion", DecideIgnore},
		{"a denied ScheduleKeyDeletion changed nothing", failed, "Enabled", DecideReport},
		{"DisableKey on the app key is reported, not undone", mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-disablekey.json", app))), "Disabled", DecideReport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.trigger, State{AppKeyState: tc.keyState}, testStack, testNow)
			if p.Decision != tc.decision {
				t.Fatalf("decision %s (%s), want %s", p.Decision, p.Why, tc.decision)
			}
			if tc.decision != DecideProtectKey {
				if len(p.Actions) != 0 {
					t.Errorf("actions %+v, want none", p.Actions)
				}
				return
			}
			a := p.Actions[0]
			if len(p.Actions) != 1 || a.Kind != CancelKeyDeletion || a.KeyARN != app || a.Undo.Kind != UndoByPerson {
				t.Fatalf("actions %+v", p.Actions)
			}
			want := []string{"aws kms enable-key --key-id " + app, "aws kms schedule-key-deletion --key-id " + app + " --pending-window-in-days 20"}
			if !slices.Equal(a.Undo.Commands, want) {
				t.Errorf("a person's commands %q, want %q", a.Undo.Commands, want)
			}
			if !strings.Contains(a.Why, "Disabled") {
				t.Errorf("the action must say the key stays Disabled: %q", a.Why)
			}
		})
	}
}

// Whatever principal or resource a trigger names, every action targets the stack's own.
func TestDecideNeverActsOnWhatTheTriggerNames(t *testing.T) {
	alarm := mustParse(t, alarmEvent(volumeAlarm, "ALARM"))
	alarm.Alarm.Reason = "arn:aws:iam::123456789012:role/admin"
	alarm.Alarm.AlarmARN = "arn:aws:cloudwatch:eu-west-1:999999999999:alarm:" + volumeAlarm
	call := mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-schedulekeydeletion.json", testStack.AppKeyARN)))
	call.Call.Caller = "arn:aws:iam::123456789012:role/admin"
	for _, tr := range []Trigger{alarm, call} {
		p := Decide(tr, State{AppKeyState: "PendingDeletion"}, testStack, testNow)
		if len(p.Actions) == 0 {
			t.Fatalf("%s: no actions (%s)", tr.Source(), p.Why)
		}
		for _, a := range p.Actions {
			if err := testStack.Permits(a); err != nil {
				t.Errorf("%s: %v", tr.Source(), err)
			}
		}
	}
}

func TestPermitsOnlyTheStacksOwnTargets(t *testing.T) {
	for name, a := range map[string]Action{
		"another role":             {Kind: RevokeSessions, RoleName: "admin", PolicyName: RevokePolicyName},
		"another policy name":      {Kind: RevokeSessions, RoleName: testStack.TaskRoleName, PolicyName: "AllowEverything"},
		"another service":          {Kind: ForceNewTasks, Cluster: "kmswatch-dev", Service: "billing"},
		"the audit key":            {Kind: CancelKeyDeletion, KeyARN: testStack.AuditKeyARN},
		"a key outside the stack":  {Kind: CancelKeyDeletion, KeyARN: "arn:aws:kms:eu-west-1:123456789012:key/other"},
		"an action it does not do": {Kind: "disable-key", KeyARN: testStack.AppKeyARN},
	} {
		if err := testStack.Permits(a); err == nil || !strings.HasPrefix(err.Error(), "refused") {
			t.Errorf("%s: permitted (%v)", name, err)
		}
	}
}

func TestStackValidate(t *testing.T) {
	if err := testStack.Validate(); err != nil {
		t.Fatalf("the test stack is invalid: %v", err)
	}
	bad := testStack
	bad.TaskRoleARN = "arn:aws:iam::123456789012:role/other"
	bad.AuditKeyARN = bad.AppKeyARN
	bad.ContainOnAlarms = []string{"a", "a"}
	bad.ContainmentInterval = time.Second
	bad.Mode = "yolo"
	err := bad.Validate()
	for _, want := range []string{"does not name role", "same key", "named twice", "containment interval", `response "yolo"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
}

func actionKinds(p Plan) []ActionKind {
	var out []ActionKind
	for _, a := range p.Actions {
		out = append(out, a.Kind)
	}
	return out
}
