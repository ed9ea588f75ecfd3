package kms

import (
	"testing"
	"time"
)

func TestFullJitterStaysUnderItsCeiling(t *testing.T) {
	j := fullJitter{base: 100 * time.Millisecond, max: time.Second}
	ceilings := map[int]time.Duration{0: 100 * time.Millisecond, 1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 64: time.Second}
	for attempt, ceiling := range ceilings {
		distinct := map[time.Duration]bool{}
		for range 50 {
			d, err := j.BackoffDelay(attempt, nil)
			if err != nil || d <= 0 || d > ceiling+time.Millisecond {
				t.Fatalf("attempt %d: delay %v (%v), want in (0, %v]", attempt, d, err, ceiling)
			}
			distinct[d] = true
		}
		if len(distinct) < 10 {
			t.Errorf("attempt %d: only %d distinct delays in 50: not jittered", attempt, len(distinct))
		}
	}
}
