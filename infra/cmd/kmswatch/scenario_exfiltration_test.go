package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/rules"
)

// mustLoop runs a loop scenario from rehearsalStart.
func mustLoop(t *testing.T, run func(time.Time, time.Duration) (*loop, error), delay time.Duration) *loop {
	t.Helper()
	l, err := run(rehearsalStart, delay)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func stepIDs(l *loop) []string {
	ids := make([]string, len(l.steps))
	for i, s := range l.steps {
		ids[i] = s.ID
	}
	return ids
}

func stepAt(t *testing.T, l *loop, id string) time.Time {
	t.Helper()
	for _, s := range l.steps {
		if s.ID == id {
			return s.At
		}
	}
	t.Fatalf("no step %s in %v", id, stepIDs(l))
	return time.Time{}
}

func clockAt(hhmmss string) time.Time {
	t, err := time.Parse(time.TimeOnly, hhmmss)
	if err != nil {
		panic(err)
	}
	return time.Date(rehearsalStart.Year(), rehearsalStart.Month(), rehearsalStart.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// decodeTrail decodes the double's records once, in call order, for the assertions to share.
func decodeTrail(t *testing.T, l *loop) []trailRecord {
	t.Helper()
	raws := l.double.Records()
	out := make([]trailRecord, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
		out[i].raw = raw
	}
	return out
}

// callsBy lists the records of one access key.
func callsBy(trail []trailRecord, accessKeyID string) []trailRecord {
	var out []trailRecord
	for _, r := range trail {
		if r.UserIdentity.AccessKeyID == accessKeyID {
			out = append(out, r)
		}
	}
	return out
}

func TestExfiltrationIsContainedAndReleased(t *testing.T) {
	l := mustLoop(t, rehearseExfiltration, defaultDeliveryDelay)
	if got := stepIDs(l); !slices.Equal(got, exfiltrationSteps) || !l.passed(exfiltrationSteps) {
		var out bytes.Buffer
		l.writeText(&out, exfiltrationAbout, exfiltrationSteps)
		t.Fatalf("steps %v, want %v, all ok:\n%s", got, exfiltrationSteps, out.String())
	}
	copied := l.steps[1] // credentials-stolen
	trail := decodeTrail(t, l)
	copiedKey := ""
	for _, r := range trail {
		if r.SourceIP == attackerAddress {
			copiedKey = r.UserIdentity.AccessKeyID
		}
	}
	containedAt := clockAt("10:11:00")

	t.Run("the alarm fires from the rules' evaluation of the delivered trail", func(t *testing.T) {
		// The copy starts at 10:02:00, five a second: the 1000th Decrypt is at 10:05:20, CloudWatch Logs has
		// it at 10:10:20, and the alarm's 10:11 evaluation sees the period breach.
		res, err := l.replay("app-decrypt-volume")
		if err != nil {
			t.Fatal(err)
		}
		var first time.Time
		for _, tr := range res.Evaluations[0].Transitions {
			if tr.To == rules.StateAlarm {
				first = tr.At
				break
			}
		}
		if !first.Equal(containedAt) || !stepAt(t, l, "alarm").Equal(first) || !stepAt(t, l, "responder-contains").Equal(first) {
			t.Errorf("ALARM at %s on the whole trail; the scenario's alarm at %s, containment at %s; want all %s",
				first, stepAt(t, l, "alarm"), stepAt(t, l, "responder-contains"), containedAt)
		}
		if !strings.Contains(copied.Title, attackerAddress) || !copied.At.Equal(clockAt("10:02:00")) {
			t.Errorf("the copy's first step: %+v", copied)
		}
	})

	t.Run("the record holds what, why, the trigger and the prior state", func(t *testing.T) {
		records, err := l.person.Store.List(t.Context())
		if err != nil || len(records) != 1 {
			t.Fatalf("records %+v, %v; want the one containment", records, err)
		}
		r := records[0]
		revoke, redeploy := r.Plan.Actions[0], r.Plan.Actions[1]
		if r.Plan.Trigger.Kind != responder.AlarmTrigger || r.Plan.Trigger.Alarm.AlarmName != "kmswatch-dev-app-decrypt-volume" ||
			!strings.Contains(r.Plan.Why, "Threshold Crossed") {
			t.Errorf("trigger %+v, why %q", r.Plan.Trigger, r.Plan.Why)
		}
		if revoke.Kind != responder.RevokeSessions || revoke.RoleName != loopTaskRole || revoke.Document != responder.RevokeDocument(containedAt) ||
			revoke.Undo.Kind != responder.UndoDeletePolicy || revoke.Undo.PriorDocument != "" {
			t.Errorf("revocation %+v: want the document of %s, undone by deleting it (the role had none)", revoke, containedAt)
		}
		if redeploy.Kind != responder.ForceNewTasks || redeploy.Cluster != loopCluster || redeploy.Service != loopService {
			t.Errorf("redeployment %+v", redeploy)
		}
		if r.Status != responder.StatusReleased || !r.Results[0].Applied || !r.Results[1].Applied || !r.Announced ||
			!slices.Equal(r.Released.Steps, []string{"deleted AWSRevokeOlderSessions from role " + loopTaskRole}) {
			t.Errorf("status %s, results %+v, released %+v", r.Status, r.Results, r.Released)
		}
	})

	t.Run("the copy is refused, from its own address, until release", func(t *testing.T) {
		// The trail is in call order: between the revocation and its deletion, the copied session is denied.
		phase := "before"
		var refusals, servedWhileContained int
		for _, r := range trail {
			raw := r.raw
			switch r.EventName {
			case "PutRolePolicy":
				if bytes.Contains(raw, []byte(responder.RevokePolicyName)) {
					phase = "contained"
				}
			case "DeleteRolePolicy":
				phase = "released"
			}
			if r.UserIdentity.AccessKeyID != copiedKey || phase != "contained" {
				continue
			}
			if r.SourceIP != attackerAddress || r.EventName != "Decrypt" {
				// The same session, used by the app's first task through the NAT gateway: stopped by the deployment.
				t.Errorf("the copied session's task called while contained: %s", raw)
			}
			switch {
			case r.ErrorCode != "":
				refusals++
				if r.ErrorCode != "AccessDeniedException" || !r.EventTime.Equal(containedAt) ||
					!strings.Contains(r.UserIdentity.ARN, ":assumed-role/"+loopTaskRole+"/") || !strings.Contains(r.ErrorMessage, "with an explicit deny") {
					t.Errorf("refusal record: %s", raw)
				}
			default:
				servedWhileContained++
			}
		}
		if refusals != 1 || servedWhileContained != 0 || phase != "released" {
			t.Errorf("%d refusals, %d decrypts served while contained (trail ends %s); want 1 and 0", refusals, servedWhileContained, phase)
		}
	})

	t.Run("fresh credentials keep the app working", func(t *testing.T) {
		tasks := l.double.Tasks(loopCluster, loopService)
		if len(tasks) != 1 || tasks[0].Session.AccessKeyID == copiedKey || !tasks[0].Session.Issued.Equal(containedAt) {
			t.Fatalf("tasks %+v: want one new task whose session is issued at the containment", tasks)
		}
		calls := callsBy(trail, tasks[0].Session.AccessKeyID)
		if len(calls) < 50 {
			t.Errorf("the new task made %d calls, want its decrypts of each minute until the release", len(calls))
		}
		for _, r := range calls {
			if r.EventName != "Decrypt" || r.ErrorCode != "" || r.SourceIP != natAddress {
				t.Errorf("the new task's call: %s", r.raw)
			}
		}
	})

	t.Run("release restores the role's policies and the keys exactly", func(t *testing.T) {
		if !maps.Equal(l.policiesBefore, map[string]string{"task": loopTaskPolicy}) || l.keysBefore != [2]string{"Enabled", "Enabled"} {
			t.Fatalf("before the containment: policies %v, keys %v", l.policiesBefore, l.keysBefore)
		}
		if after := l.double.RolePolicies(loopTaskRole); !maps.Equal(after, l.policiesBefore) {
			t.Errorf("inline policies after release %v, before the containment %v", after, l.policiesBefore)
		}
		if keys := [2]string{l.double.KeyState(l.appKey.ID), l.double.KeyState(l.auditKey.ID)}; keys != l.keysBefore {
			t.Errorf("keys after release %v, before the containment %v", keys, l.keysBefore)
		}
		deletes := l.records("DeleteRolePolicy", func(trailRecord) bool { return true })
		if len(deletes) != 1 || deletes[0].UserIdentity.Type != "IAMUser" || deletes[0].UserIdentity.ARN != l.oncall.ARN {
			t.Errorf("DeleteRolePolicy records: %+v", deletes)
		}
	})

	t.Run("the announcement says what was done and how to undo it", func(t *testing.T) {
		msgs := l.double.Messages(l.topic)
		if len(msgs) != 1 {
			t.Fatalf("%d messages, want the containment's", len(msgs))
		}
		m := msgs[0]
		records, _ := l.person.Store.List(t.Context())
		for _, want := range []string{"What happened (2026-11-24T10:11:00Z):", "1. revoke-role-sessions: deny every request signed with kmswatch-dev-task credentials issued before 2026-11-24T10:11:00Z",
			"2. force-new-deployment: start fresh tasks of service app", "How to undo:", "run: kmswatch release --table kmswatch-dev-responder " + records[0].ID} {
			if !strings.Contains(m.Message, want) {
				t.Errorf("announcement lacks %q:\n%s", want, m.Message)
			}
		}
		if m.Subject != "[kmswatch responder] CONTAINED: alarm kmswatch-dev-app-decrypt-volume" || !strings.HasSuffix(m.PublisherARN, ":assumed-role/kmswatch-dev-responder/kmswatch-dev-responder") {
			t.Errorf("subject %q from %s", m.Subject, m.PublisherARN)
		}
	})

	t.Run("the responder calls only what its role needs, never on the audit key", func(t *testing.T) {
		names := map[string]bool{}
		for _, r := range trail {
			if !strings.Contains(r.UserIdentity.ARN, ":assumed-role/kmswatch-dev-responder/") {
				continue
			}
			names[r.EventName] = true
			if bytes.Contains(r.raw, []byte(l.auditKey.ARN)) {
				t.Errorf("a responder call names the audit key: %s", r.raw)
			}
		}
		want := []string{"GetItem", "GetRolePolicy", "Publish", "PutItem", "PutRolePolicy", "UpdateItem", "UpdateService"}
		if got := slices.Sorted(maps.Keys(names)); !slices.Equal(got, want) {
			t.Errorf("the responder called %v, want %v", got, want)
		}
	})

	t.Run("the text output shows every step with its time", func(t *testing.T) {
		var out bytes.Buffer
		l.writeText(&out, exfiltrationAbout, exfiltrationSteps)
		for _, want := range []string{"10:02:00  ok     credentials-stolen:", "10:11:00  ok     alarm:", "10:11:00  ok     responder-contains:",
			"CloudTrail: Decrypt AccessDeniedException from 198.51.100.23", "11:11:00  ok     released:", "Every step happened as described (10 steps)."} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
}

// With CloudTrail 15 minutes late (the lab's worst case), the decrypt-volume alarm fires only after the copy
// has decrypted the whole database: the scenario says so and exits 1.
func TestExfiltrationOutrunsALateAlarm(t *testing.T) {
	r := runCLI("rehearse", "--scenario", "exfiltration", "--delivery-delay", "15m")
	if r.code != exitFindings || !strings.Contains(r.stderr, "did not run as described") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"FAILED attack-ended: the copy decrypted the whole database", "3500 of 3500 records decrypted, never refused",
		"FAILED alarm:", "MISSING  stolen-refused"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// A further signal (as issue 11 adds) is a check with its own delay: here one that fires a minute into the
// copy and reaches the responder 30 seconds later, so the copy is refused before the volume alarm could fire.
func TestAFasterSignalContainsBeforeTheVolumeAlarm(t *testing.T) {
	rule, _ := rules.Lookup("app-decrypt-volume")
	early := signal{id: "early-signal", name: "a test signal", delay: 30 * time.Second, delaySource: "the test's",
		check: func(_ *loop, now time.Time) (firing, bool, error) {
			at := rehearsalStart.Add(attackAfter + time.Minute)
			if now.Before(at) {
				return firing{}, false, nil
			}
			tr := rules.Transition{At: at, From: rules.StateOK, To: rules.StateAlarm}
			return firing{at: at, payload: alarmPayload(rule.AlarmName(loopPrefix), tr, rule.Firing), got: "fired"}, true, nil
		}}
	l, err := runExfiltration(rehearsalStart, defaultDeliveryDelay, []signal{early, decryptVolumeAlarm()})
	if err != nil {
		t.Fatal(err)
	}
	required := slices.DeleteFunc(slices.Clone(exfiltrationSteps), func(id string) bool { return id == "alarm" })
	if !l.passed(required) || !stepAt(t, l, "responder-contains").Equal(clockAt("10:03:30")) || slices.Contains(stepIDs(l), "alarm") {
		var out bytes.Buffer
		l.writeText(&out, exfiltrationAbout, required)
		t.Fatalf("want a containment at 10:03:30 and no volume alarm (the copy made too few calls):\n%s", out.String())
	}
	for _, s := range l.steps {
		if s.ID == "stolen-refused" && !strings.Contains(strings.Join(s.Details, ""), "the copy decrypted 450 of 3500 records (10:02:00 to 10:03:30)") {
			t.Errorf("exposure: %+v", s)
		}
	}
}
