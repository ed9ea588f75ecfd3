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
func mustLoop(t *testing.T, run func(time.Time, loopDelays) (*loop, error), d loopDelays) *loop {
	t.Helper()
	l, err := run(rehearsalStart, d)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// defaultDelays are the command's defaults.
func defaultDelays() loopDelays {
	return loopDelays{trail: defaultDeliveryDelay, metric: defaultMetricDelay, appLog: defaultAppLogDelay}
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
	l := mustLoop(t, rehearseExfiltration, defaultDelays())
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
	containedAt := clockAt("10:05:00")
	for _, s := range l.steps {
		// The wait release keeps is IAM's bound for AssumeRole sessions, not for the task's: the
		// rehearsal must not claim that the copy has expired on AWS.
		if d := strings.Join(s.Details, " "); s.ID == "after-release" &&
			(strings.Contains(d, "has expired") || !strings.Contains(d, "no documented bound for the credentials ECS hands a task")) {
			t.Errorf("after-release details: %s", d)
		}
	}

	t.Run("the AWS/KMS alarms fire from the rules' evaluation of the metric's counts", func(t *testing.T) {
		// The copy starts at 10:02:00, five a second, each call counted 2 minutes later: at the 10:05
		// evaluation minute 10:02 holds 300 Decrypts of the app key (app-key-decrypt-rate) and, of
		// minute 10:03, the calls of 10:03:00 (CloudTrail's whole second), five, none served: with
		// minute 10:02, the second breaching minute app-decrypt-unserved needs.
		rate, _ := rules.Lookup("app-key-decrypt-rate")
		unserved, _ := rules.Lookup("app-decrypt-unserved")
		in := unserved.InputRules()
		res := rules.ReplayData("x", l.trailAndLogs(), rules.ReplayOptions{Rules: []rules.Rule{rate, in[0], in[1]}, Params: l.params})
		if len(res.Problems) > 0 {
			t.Fatal(res.Problems)
		}
		times := make([][]time.Time, 3)
		for _, m := range res.Matches {
			times[m.Rule] = append(times[m.Rule], m.EventTime)
		}
		rateTr, _ := firstAlarm(rules.EvaluateArrivals(rate.Firing, rules.Delayed(times[0], l.metricDelay)), clockAt("23:00:00"))
		unservedTr, _ := firstAlarm(rules.EvaluateDifference(unserved.Firing, rules.Delayed(times[1], l.metricDelay), rules.Delayed(times[2], l.appLogDelay)), clockAt("23:00:00"))
		rateAt, unservedAt := rateTr.At, unservedTr.At
		if !rateAt.Equal(containedAt) || !unservedAt.Equal(containedAt) || !stepAt(t, l, "key-rate-alarm").Equal(rateAt) ||
			!stepAt(t, l, "unserved-alarm").Equal(unservedAt) || !stepAt(t, l, "responder-contains").Equal(unservedAt) {
			t.Errorf("rate ALARM %s, unserved ALARM %s on the whole trail; steps at %s, %s, containment %s; want all %s",
				rateAt, unservedAt, stepAt(t, l, "key-rate-alarm"), stepAt(t, l, "unserved-alarm"), stepAt(t, l, "responder-contains"), containedAt)
		}
		if !strings.Contains(copied.Title, attackerAddress) || !copied.At.Equal(clockAt("10:02:00")) {
			t.Errorf("the copy's first step: %+v", copied)
		}
		if slices.Contains(stepIDs(l), "alarm") {
			t.Error("the trail's volume alarm fired: the copy made 1000 Decrypts in 5 minutes before it was refused")
		}
	})

	t.Run("the paths are printed beside CloudTrail's, and the trail alone would have been 6 minutes later", func(t *testing.T) {
		var out bytes.Buffer
		l.writeText(&out, exfiltrationAbout, exfiltrationSteps)
		for _, want := range []string{
			"alarm kmswatch-dev-app-key-decrypt-rate: fired 10:05:00, 3m after the copy's first Decrypt; path: AWS/KMS SuccessfulRequest, each call counted 2m after it (--metric-delay; assumed, AWS documents no delay), beside CloudTrail -> CloudWatch Logs 5m",
			"alarm kmswatch-dev-app-decrypt-volume: never fired: the copy was refused first; had it decrypted on, ALARM at 10:11:00, 9m after its first Decrypt",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
		alone, err := runExfiltration(rehearsalStart, defaultDelays(), []signal{decryptVolumeAlarm()})
		if err != nil {
			t.Fatal(err)
		}
		if got := stepAt(t, alone, "responder-contains"); !got.Equal(clockAt("10:11:00")) {
			t.Errorf("with the trail's alarm alone the containment is at %s, want 10:11:00", got)
		}
	})

	t.Run("the offline join names every Decrypt of the copy, none of the app's", func(t *testing.T) {
		var served int
		for _, r := range trail {
			if r.EventName == "Decrypt" && r.ErrorCode == "" && r.SourceIP == natAddress {
				served++
			}
		}
		s := l.steps[slices.Index(stepIDs(l), "unmatched-decrypts")]
		if served == 0 || !strings.HasPrefix(s.Got, "901 unmatched Decrypts, all from 198.51.100.23 (the copy), 10:02:00 to 10:05:00: each of the copy's 901 before the release") {
			t.Errorf("join: %s (the app served %d)", s.Got, served)
		}
	})

	t.Run("the record holds what, why, the trigger and the prior state", func(t *testing.T) {
		records, err := l.person.Store.List(t.Context())
		if err != nil || len(records) != 1 {
			t.Fatalf("records %+v, %v; want the one containment", records, err)
		}
		r := records[0]
		revoke, redeploy := r.Plan.Actions[0], r.Plan.Actions[1]
		if r.Plan.Trigger.Kind != responder.AlarmTrigger || r.Plan.Trigger.Alarm.AlarmName != "kmswatch-dev-app-decrypt-unserved" ||
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
		for _, want := range []string{"What happened (2026-11-24T10:05:00Z):", "1. revoke-role-sessions: deny every request signed with kmswatch-dev-task credentials issued before 2026-11-24T10:05:00Z",
			"2. force-new-deployment: start fresh tasks of service app", "How to undo:", "run: kmswatch release --table kmswatch-dev-responder " + records[0].ID} {
			if !strings.Contains(m.Message, want) {
				t.Errorf("announcement lacks %q:\n%s", want, m.Message)
			}
		}
		if m.Subject != "[kmswatch responder] CONTAINED: alarm kmswatch-dev-app-decrypt-unserved" || !strings.HasSuffix(m.PublisherARN, ":assumed-role/kmswatch-dev-responder/kmswatch-dev-responder") {
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
		for _, want := range []string{"10:02:00  ok     credentials-stolen:", "10:05:00  ok     key-rate-alarm:", "10:05:00  ok     unserved-alarm:",
			"10:05:00  ok     responder-contains:", "CloudTrail: Decrypt AccessDeniedException from 198.51.100.23", "11:05:00  ok     released:",
			"Every step happened as described (13 steps)."} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
}

// With CloudTrail 15 minutes late (the lab's worst case) the trail's alarm alone fires only after the copy
// has decrypted the whole database; the AWS/KMS alarms do not wait for CloudTrail, and the scenario runs as
// described.
func TestTheMetricPathDoesNotWaitForCloudTrail(t *testing.T) {
	late := defaultDelays()
	late.trail = 15 * time.Minute
	alone, err := runExfiltration(rehearsalStart, late, []signal{decryptVolumeAlarm()})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	alone.writeText(&out, exfiltrationAbout, exfiltrationSteps)
	for _, want := range []string{"FAILED attack-ended: the copy decrypted the whole database", "3500 of 3500 records decrypted, never refused",
		"FAILED alarm:", "MISSING  stolen-refused"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the trail's alarm alone, 15m late: output lacks %q:\n%s", want, out.String())
		}
	}
	r := runCLI("rehearse", "--scenario", "exfiltration", "--delivery-delay", "15m")
	if r.code != exitOK || !strings.Contains(r.stdout, "10:05:00  ok     responder-contains:") && !strings.Contains(r.stdout, "responder-contains") {
		t.Fatalf("with the AWS/KMS alarms, 15m late CloudTrail: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	// A slower metric delays the fast path by as much, still well ahead of the trail.
	r = runCLI("rehearse", "--scenario", "exfiltration", "--metric-delay", "4m")
	if r.code != exitOK || !strings.Contains(r.stdout, "fired") || !strings.Contains(r.stdout, "5m after the copy's first Decrypt") {
		t.Errorf("--metric-delay 4m: exit %d\n%s", r.code, r.stdout)
	}
}

// A further signal (as issue 11 adds) is a check with its own delay: here one that fires a minute into the
// copy and reaches the responder 30 seconds later, so the copy is refused before the volume alarm could fire.
func TestAFasterSignalContainsBeforeTheVolumeAlarm(t *testing.T) {
	rule, _ := rules.Lookup("app-decrypt-volume")
	early := signal{id: "early-signal", name: "a test signal", delay: 30 * time.Second, delaySource: "the test's",
		path: func(*loop) string { return "the test's" },
		check: func(_ *loop, now time.Time) (firing, bool, error) {
			at := rehearsalStart.Add(attackAfter + time.Minute)
			if now.Before(at) {
				return firing{}, false, nil
			}
			tr := rules.Transition{At: at, From: rules.StateOK, To: rules.StateAlarm}
			return firing{at: at, payload: alarmPayload(rule.AlarmName(loopPrefix), tr, rule.Firing), got: "fired"}, true, nil
		}}
	l, err := runExfiltration(rehearsalStart, defaultDelays(), []signal{early, decryptVolumeAlarm()})
	if err != nil {
		t.Fatal(err)
	}
	required := slices.DeleteFunc(slices.Clone(exfiltrationSteps), func(id string) bool { return id == "key-rate-alarm" || id == "unserved-alarm" })
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
