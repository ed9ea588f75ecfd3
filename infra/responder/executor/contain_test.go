package executor

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
)

// The whole loop on the fakes: the alarm contains, the role's IAM state after release is the
// state before containment, exactly.
func TestContainThenReleaseRestoresIAMExactly(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	before := h.iam.snapshot()

	rec := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	if rec.Status != responder.StatusContained {
		t.Fatalf("status %s: %s", rec.Status, rec.Plan.Why)
	}
	doc := h.iam.policies[taskRole][responder.RevokePolicyName]
	if revokedBefore, ok := responder.RevokedBefore(doc); !ok || !revokedBefore.Equal(start) {
		t.Errorf("the role carries %q, want the revocation of %s", doc, start)
	}
	if !slices.Equal(h.ecs.deployments, []string{"kmswatch-dev/app"}) {
		t.Errorf("deployments %v", h.ecs.deployments)
	}
	if !reflect.DeepEqual(h.iam.policies[otherRole], before[otherRole]) {
		t.Errorf("another role was touched: %v", h.iam.policies[otherRole])
	}
	if len(h.sns.published) != 1 || !strings.Contains(*h.sns.published[0].Message, "kmswatch release --table "+table+" "+rec.ID) ||
		*h.sns.published[0].TopicArn != topic {
		t.Fatalf("announcements %+v", h.sns.published)
	}
	if stored := h.store.mustGet(t, rec.ID); stored.Status != responder.StatusContained || !stored.Announced {
		t.Errorf("stored record %s announced=%v", stored.Status, stored.Announced)
	}

	h.clock = h.clock.Add(10 * time.Minute)
	released, err := h.Release(t.Context(), rec.ID, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.iam.snapshot(), before) {
		t.Errorf("IAM after release\n  %v\nbefore containment\n  %v", h.iam.snapshot(), before)
	}
	if released.Status != responder.StatusReleased || h.store.mustGet(t, rec.ID).Status != responder.StatusReleased {
		t.Errorf("record after release: %s", released.Status)
	}
	if _, err := h.Release(t.Context(), rec.ID, false, true); err == nil {
		t.Error("released twice")
	}
}

// A revocation a person made in the console is restored byte for byte, and a second firing
// after the interval updates the date of the same policy.
func TestASecondContainmentRecordsThePriorDocumentAndReleasesInOrder(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	console := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-01T08:00:00Z"}}}]}`
	h.iam.policies[taskRole][responder.RevokePolicyName] = console
	before := h.iam.snapshot()

	first := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	h.clock = h.clock.Add(61 * time.Minute)
	second := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	if first.Status != responder.StatusContained || second.Status != responder.StatusContained || first.ID == second.ID {
		t.Fatalf("records %s %s / %s %s", first.ID, first.Status, second.ID, second.Status)
	}
	if got := second.Plan.Actions[0].Undo.PriorDocument; got != first.Plan.Actions[0].Document {
		t.Errorf("the second containment's prior document is %q, want the first's", got)
	}
	if names := len(h.iam.policies[taskRole]); names != 2 {
		t.Errorf("the role has %d policies, want its own and one revocation", names)
	}
	if _, err := h.Release(t.Context(), first.ID, false, true); !errors.Is(err, responder.ErrChanged) {
		t.Errorf("releasing the older record first: %v, want ErrChanged", err)
	}
	for _, id := range []string{second.ID, first.ID} {
		if _, err := h.Release(t.Context(), id, false, true); err != nil {
			t.Fatalf("release %s: %v", id, err)
		}
	}
	if got := h.iam.policies[taskRole][responder.RevokePolicyName]; got != console {
		t.Errorf("after both releases the role carries\n  %s\nwant the console's document back exactly\n  %s", got, console)
	}
	if !reflect.DeepEqual(h.iam.snapshot(), before) {
		t.Errorf("IAM after release %v, before %v", h.iam.snapshot(), before)
	}
}

func TestAFiringWithinTheIntervalIsRecordedNotContained(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	writes, deployments := len(h.iam.writes), len(h.ecs.deployments)
	h.clock = h.clock.Add(20 * time.Minute)
	rec := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	if rec.Status != responder.StatusRateLimited || len(h.iam.writes) != writes || len(h.ecs.deployments) != deployments {
		t.Errorf("status %s, IAM writes %v, deployments %v", rec.Status, h.iam.writes, h.ecs.deployments)
	}
	if len(h.sns.published) != 2 || !strings.Contains(*h.sns.published[1].Subject, "NOT CONTAINED AGAIN") {
		t.Errorf("the rate-limited firing must be announced: %+v", h.sns.published)
	}
}

// staleStore reads no containment (as when another invocation had not claimed yet when this one
// looked), while the claim finds the other invocation's.
type staleStore struct{ *memStore }

func (staleStore) LastContainment(context.Context, responder.Mode) (time.Time, error) {
	return time.Time{}, nil
}

// Two invocations decide at once (both saw no containment); the store's claim lets one through.
func TestAConcurrentContainmentLosesTheClaim(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	if ok, _, _ := h.store.ClaimContainment(t.Context(), responder.ModeContain, start.Add(-time.Minute), time.Hour, "the-other-invocation"); !ok {
		t.Fatal("setup claim")
	}
	h.Store = staleStore{h.store}
	rec := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	if rec.Status != responder.StatusRateLimited || len(h.iam.writes) != 0 || len(h.ecs.deployments) != 0 {
		t.Errorf("status %s, IAM %v, ECS %v", rec.Status, h.iam.writes, h.ecs.deployments)
	}
	if stored := h.store.mustGet(t, rec.ID); stored.Status != responder.StatusRateLimited {
		t.Errorf("stored %s", stored.Status)
	}
}

func TestADryRunChangesNothingAndSaysWhatItWouldDo(t *testing.T) {
	h := newHarness(t, responder.ModeDryRun)
	before := h.iam.snapshot()
	rec := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	if rec.Status != responder.StatusDryRun || len(rec.Plan.Actions) != 2 {
		t.Fatalf("status %s, actions %d", rec.Status, len(rec.Plan.Actions))
	}
	if len(h.iam.writes) != 0 || len(h.ecs.deployments) != 0 || !reflect.DeepEqual(h.iam.snapshot(), before) {
		t.Errorf("a dry run wrote: IAM %v, ECS %v", h.iam.writes, h.ecs.deployments)
	}
	if len(h.sns.published) != 1 || !strings.Contains(*h.sns.published[0].Subject, "DRY RUN") {
		t.Errorf("announcements %+v", h.sns.published)
	}
	if _, err := h.Release(t.Context(), rec.ID, false, true); err == nil || !strings.Contains(err.Error(), "dry run") {
		t.Errorf("release of a dry run: %v", err)
	}
	// A dry run's rate limit never holds back a real containment.
	if last, _ := h.store.LastContainment(t.Context(), responder.ModeContain); !last.IsZero() {
		t.Errorf("a dry run set the real rate limit: %s", last)
	}
}

func TestARetryOfOneInvocationActsOnce(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	payload := h.alarm(volumeAlarm, "ALARM")
	first := h.mustHandle(t, payload)
	h.clock = h.clock.Add(90 * time.Second) // Lambda's retry comes a minute or more later
	again := h.mustHandle(t, payload)
	if again.ID != first.ID || len(h.iam.writes) != 1 || len(h.ecs.deployments) != 1 || len(h.sns.published) != 1 {
		t.Errorf("retry: id %s vs %s, IAM %v, ECS %v, %d announcements", again.ID, first.ID, h.iam.writes, h.ecs.deployments, len(h.sns.published))
	}
}

// A failed call leaves the record saying what took effect; the retry applies only the rest.
func TestAFailedRedeployIsRecordedAndTheRetryFinishesIt(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	h.ecs.fail = errors.New("ServiceNotActiveException: Service was not ACTIVE")
	payload := h.alarm(volumeAlarm, "ALARM")
	rec, err := h.Handle(t.Context(), payload)
	if err == nil || !strings.Contains(err.Error(), "ServiceNotActiveException") {
		t.Fatalf("Handle: %v", err)
	}
	if rec.Status != responder.StatusFailed || !rec.Results[0].Applied || rec.Results[1].Applied || !rec.Containing() {
		t.Errorf("record %s %+v", rec.Status, rec.Results)
	}
	if msg := *h.sns.published[0].Subject; !strings.Contains(msg, "PARTLY FAILED") {
		t.Errorf("subject %q", msg)
	}
	h.ecs.fail = nil
	h.clock = h.clock.Add(time.Minute)
	rec = h.mustHandle(t, payload)
	if rec.Status != responder.StatusContained || len(h.iam.writes) != 1 || len(h.ecs.deployments) != 1 {
		t.Errorf("after the retry: %s, IAM %v, ECS %v", rec.Status, h.iam.writes, h.ecs.deployments)
	}
	if len(h.sns.published) != 2 || *h.sns.published[1].Subject != "[kmswatch responder] CONTAINED: alarm "+volumeAlarm {
		t.Errorf("the retry's outcome must be announced: %d messages", len(h.sns.published))
	}
}

func TestTheExecutorRefusesAPlanForAnotherRole(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	rec := responder.NewRecord("x", responder.Plan{Decision: responder.DecideContain, At: start, Actions: []responder.Action{{
		Kind: responder.RevokeSessions, RoleName: otherRole, PolicyName: responder.RevokePolicyName, Document: responder.RevokeDocument(start),
	}}}, responder.ModeContain)
	if err := h.apply(t.Context(), &rec); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("apply: %v", err)
	}
	if len(h.iam.writes) != 0 {
		t.Errorf("wrote %v", h.iam.writes)
	}
}

func TestAlarmsThatDoNotContainAreNeitherRecordedNorAnnounced(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	for _, p := range [][]byte{h.alarm(volumeAlarm, "OK"), h.alarm("kmswatch-dev-app-kms-errors", "ALARM")} {
		rec := h.mustHandle(t, p)
		if rec.ID != "" || rec.Plan.Decision != responder.DecideIgnore {
			t.Errorf("%s: %+v", rec.Plan.Trigger.Source(), rec)
		}
	}
	if list, _ := h.store.List(t.Context()); len(list) != 0 || len(h.sns.published) != 0 || len(h.iam.writes) != 0 {
		t.Errorf("records %v, announcements %d, IAM %v", list, len(h.sns.published), h.iam.writes)
	}
	if _, err := h.Handle(t.Context(), []byte(`{"hello":"world"}`)); !errors.Is(err, responder.ErrUnknownTrigger) {
		t.Errorf("an unknown payload: %v", err)
	}
}
