package executor

import (
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
)

func TestStatusShowsWhatIsContainedNow(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	first := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	standing, err := h.Status(t.Context())
	if err != nil || len(standing) != 1 || !standing[0].InForce || standing[0].Record.ID != first.ID ||
		!strings.Contains(standing[0].Note, "issued before 2026-11-26T10:15:00Z are denied") {
		t.Fatalf("status after one containment: %+v, %v", standing, err)
	}

	h.clock = h.clock.Add(2 * time.Hour)
	second := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	standing, _ = h.Status(t.Context())
	if len(standing) != 2 || standing[0].InForce || !strings.Contains(standing[0].Note, "superseded") || !standing[1].InForce || standing[1].Record.ID != second.ID {
		t.Errorf("status after two: %+v", standing)
	}

	for _, id := range []string{second.ID, first.ID} {
		if _, err := h.Release(t.Context(), id, false, true); err != nil {
			t.Fatal(err)
		}
	}
	if standing, _ = h.Status(t.Context()); len(standing) != 0 {
		t.Errorf("after release: %+v", standing)
	}

	// A release does not reset the rate limit: a firing right after it is not contained again.
	h.clock = h.clock.Add(time.Minute)
	if limited := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM")); limited.Status != responder.StatusRateLimited {
		t.Errorf("a firing right after the release: %s", limited.Status)
	}
	h.clock = h.clock.Add(2 * time.Hour)
	third := h.mustHandle(t, h.alarm(volumeAlarm, "ALARM"))
	delete(h.iam.policies[taskRole], responder.RevokePolicyName) // someone removed it by hand
	standing, _ = h.Status(t.Context())
	if len(standing) != 1 || standing[0].Record.ID != third.ID || standing[0].InForce || !strings.Contains(standing[0].Note, "removed outside") {
		t.Errorf("status after a removal by hand: %+v", standing)
	}
}
