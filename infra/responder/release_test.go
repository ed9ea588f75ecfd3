package responder

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// applied returns the record of a containment whose actions all took effect.
func applied(t *testing.T, st State) Record {
	t.Helper()
	p := Decide(mustParse(t, alarmEvent(volumeAlarm, "ALARM")), st, testStack, testNow)
	r := NewRecord(RecordID(p.Trigger, testNow), p, testStack.Mode)
	if r.Status != StatusPending {
		t.Fatalf("a new containment record is %s, want pending", r.Status)
	}
	for i := range r.Results {
		r.Results[i] = ActionResult{Applied: true, AppliedAt: testNow}
	}
	r.Finish()
	if r.Status != StatusContained || !r.Containing() {
		t.Fatalf("status %s after every action applied", r.Status)
	}
	return r
}

func TestPlanReleaseUndoesExactlyWhatWasApplied(t *testing.T) {
	prior := RevokeDocument(testNow.Add(-48 * time.Hour))
	fresh := applied(t, State{})
	again := applied(t, State{RevokePolicy: prior, HasRevokePolicy: true})
	ours := fresh.Plan.Actions[0].Document

	steps, err := PlanRelease(fresh, ours, true, false)
	if err != nil || len(steps) != 1 || !steps[0].Delete || steps[0].RoleName != testStack.TaskRoleName {
		t.Errorf("release of a first containment: %+v, %v; want one DeleteRolePolicy on the task role", steps, err)
	}
	steps, err = PlanRelease(again, ours, true, false)
	if err != nil || len(steps) != 1 || steps[0].Delete || steps[0].Document != prior {
		t.Errorf("release of a second containment: %+v, %v; want the prior document put back", steps, err)
	}
}

func TestPlanReleaseRefuses(t *testing.T) {
	r := applied(t, State{})
	ours := r.Plan.Actions[0].Document
	later := RevokeDocument(testNow.Add(2 * time.Hour))

	if _, err := PlanRelease(r, later, true, false); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a policy changed since: %v, want ErrChanged naming --force", err)
	}
	if _, err := PlanRelease(r, "", false, false); !errors.Is(err, ErrChanged) {
		t.Errorf("a policy deleted since: %v, want ErrChanged", err)
	}
	if steps, err := PlanRelease(r, later, true, true); err != nil || len(steps) != 1 {
		t.Errorf("--force: %+v, %v", steps, err)
	}

	released := r
	released.Status, released.Released = StatusReleased, &Release{At: testNow}
	if _, err := PlanRelease(released, ours, true, false); err == nil || !strings.Contains(err.Error(), "already released") {
		t.Errorf("released twice: %v", err)
	}

	dry := testStack
	dry.Mode = ModeDryRun
	p := Decide(mustParse(t, alarmEvent(volumeAlarm, "ALARM")), State{}, dry, testNow)
	if _, err := PlanRelease(NewRecord("d", p, dry.Mode), ours, true, false); err == nil || !strings.Contains(err.Error(), "dry run") {
		t.Errorf("a dry run: %v", err)
	}

	failed := NewRecord("f", r.Plan, testStack.Mode) // nothing applied
	failed.Finish()
	if _, err := PlanRelease(failed, ours, true, false); err == nil || !strings.Contains(err.Error(), "nothing for release to undo") {
		t.Errorf("nothing applied: %v", err)
	}

	key := Decide(mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-schedulekeydeletion.json", testStack.AppKeyARN))),
		State{AppKeyState: "PendingDeletion"}, testStack, testNow)
	kr := NewRecord("k", key, testStack.Mode)
	kr.Results[0].Applied = true
	kr.Finish()
	if kr.Status != StatusKeyRestored || kr.Containing() {
		t.Errorf("key record status %s, containing %v", kr.Status, kr.Containing())
	}
	if _, err := PlanRelease(kr, "", false, false); err == nil || !strings.Contains(err.Error(), "aws kms enable-key") {
		t.Errorf("a cancelled deletion: %v, want the person's command", err)
	}
}

func TestRecordStatus(t *testing.T) {
	p := Decide(mustParse(t, alarmEvent(volumeAlarm, "ALARM")), State{}, testStack, testNow)
	r := NewRecord("x", p, testStack.Mode)
	r.Results[0] = ActionResult{Applied: true}
	r.Results[1] = ActionResult{Error: "ServiceNotActiveException"}
	r.Finish()
	if r.Status != StatusFailed || !r.Containing() {
		t.Errorf("revoked but not redeployed: %s, containing %v; want failed and containing", r.Status, r.Containing())
	}
	limited := NewRecord("y", Decide(mustParse(t, alarmEvent(volumeAlarm, "ALARM")), State{LastContainment: testNow}, testStack, testNow), testStack.Mode)
	if limited.Status != StatusRateLimited || limited.Containing() {
		t.Errorf("rate-limited record: %s", limited.Status)
	}
}

// Lifting the deny lets every session issued before its date work again: release waits at least
// until the role's maximum session duration has passed since that date, unless told to go early,
// and says that the wait bounds no session ECS holds for a task.
func TestReleaseWaitsUntilTheRevokedSessionsCanHaveExpired(t *testing.T) {
	r := applied(t, State{})
	hour := time.Hour
	if by := SessionsExpireBy(r, hour); !by.Equal(testNow.Add(hour)) {
		t.Fatalf("sessions expire by %s, want an hour after the revocation (%s)", by, testNow.Add(hour))
	}
	err := CheckSessionsExpired(r, testNow.Add(30*time.Minute), hour, false)
	if !errors.Is(err, ErrSessionsLive) || !strings.Contains(err.Error(), testNow.Add(hour).UTC().Format(time.RFC3339)) {
		t.Errorf("half an hour on: %v, want ErrSessionsLive naming when the wait ends", err)
	}
	for _, want := range []string{"no documented bound for the credentials ECS hands a task", "does not limit sessions assumed by AWS services",
		"leaving the containment in place is the safe choice", "tasks that ran before it are stopped", "--early"} {
		if err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
	for _, tc := range []struct {
		name  string
		now   time.Time
		early bool
	}{{"once the wait is over", testNow.Add(hour), false}, {"early, as asked", testNow.Add(time.Minute), true}} {
		if err := CheckSessionsExpired(r, tc.now, hour, tc.early); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// A record that revoked nothing (a cancelled key deletion, a dry run) has nothing to wait for.
	if by := SessionsExpireBy(NewRecord("x", Plan{}, testStack.Mode), hour); !by.IsZero() {
		t.Errorf("a record without a revocation waits until %s", by)
	}
}
