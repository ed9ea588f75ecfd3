package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// at returns n event times spread within minute m after t0.
func at(m, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)
	}
	return out
}

func joined(parts ...[]time.Time) []time.Time {
	var out []time.Time
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func describe(ev Evaluation) string {
	var parts []string
	for _, tr := range ev.Transitions {
		parts = append(parts, fmt.Sprintf("%s->%s@%s", tr.From, tr.To, tr.At.Sub(t0)))
	}
	return strings.Join(parts, " ")
}

func TestEvaluate(t *testing.T) {
	perMinute := func(threshold float64, evals int) Firing {
		return Firing{Period: time.Minute, EvaluationPeriods: evals, Threshold: threshold}
	}
	for _, tc := range []struct {
		name      string
		f         Firing
		times     []time.Time
		want      string // transitions
		breaching int
	}{
		{"no events, no transition", perMinute(2, 1), nil, "", 0},
		{"below threshold stays OK", perMinute(2, 1), at(0, 1), "", 0},
		{"threshold reached alarms at the period's end, then OK after the next empty period",
			perMinute(2, 1), at(0, 2), "OK->ALARM@1m0s ALARM->OK@2m0s", 1},
		{"two breaching periods in a row keep ALARM", perMinute(2, 1), joined(at(0, 3), at(1, 3)),
			"OK->ALARM@1m0s ALARM->OK@3m0s", 2},
		{"a quiet period with events below threshold returns to OK", perMinute(2, 1), joined(at(0, 2), at(1, 1), at(2, 2)),
			"OK->ALARM@1m0s ALARM->OK@2m0s OK->ALARM@3m0s ALARM->OK@4m0s", 2},
		{"a gap (missing data) is notBreaching", perMinute(2, 1), joined(at(0, 2), at(5, 2)),
			"OK->ALARM@1m0s ALARM->OK@2m0s OK->ALARM@6m0s ALARM->OK@7m0s", 2},
		{"two evaluation periods need two breaching periods in a row", perMinute(2, 2), joined(at(0, 2), at(1, 2)),
			"OK->ALARM@2m0s ALARM->OK@3m0s", 2},
		{"two evaluation periods with a gap between breaches never alarm", perMinute(2, 2), joined(at(0, 2), at(2, 2)),
			"", 2},
		{"events out of order are sorted", perMinute(2, 1), []time.Time{t0.Add(30 * time.Second), t0.Add(5 * time.Minute), t0},
			"OK->ALARM@1m0s ALARM->OK@2m0s", 1},
		{"five-minute periods sum across minutes", Firing{Period: 5 * time.Minute, EvaluationPeriods: 1, Threshold: 3},
			joined(at(0, 1), at(2, 1), at(4, 1)), "OK->ALARM@5m0s ALARM->OK@10m0s", 1},
		{"periods are aligned to the clock, not to the first event", Firing{Period: 5 * time.Minute, EvaluationPeriods: 1, Threshold: 2},
			joined(at(4, 1), at(5, 1)), "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := Evaluate(tc.f, tc.times)
			if got := describe(ev); got != tc.want {
				t.Errorf("transitions = %q, want %q", got, tc.want)
			}
			if got := len(ev.Breaching()); got != tc.breaching {
				t.Errorf("breaching periods = %d, want %d", got, tc.breaching)
			}
		})
	}
}

func TestEvaluatePeriodStates(t *testing.T) {
	ev := Evaluate(Firing{Period: time.Minute, EvaluationPeriods: 2, Threshold: 2}, joined(at(0, 2), at(1, 5), at(2, 1)))
	want := []PeriodSum{
		{Start: t0, Count: 2, Breaching: true, State: StateOK},
		{Start: t0.Add(time.Minute), Count: 5, Breaching: true, State: StateAlarm},
		{Start: t0.Add(2 * time.Minute), Count: 1, Breaching: false, State: StateOK},
	}
	if fmt.Sprint(ev.Periods) != fmt.Sprint(want) {
		t.Errorf("periods = %v\nwant %v", ev.Periods, want)
	}
	if len(ev.Transitions) == 0 || len(ev.Transitions[0].Datapoints) != 2 || ev.Transitions[0].Datapoints[0].Count != 5 {
		t.Errorf("ALARM transition should list both datapoints newest first: %+v", ev.Transitions)
	}
}

func TestEvaluateImmediateFiresPerEvent(t *testing.T) {
	ev := Evaluate(Firing{Immediate: true}, at(0, 3))
	if len(ev.Periods) != 3 || len(ev.Breaching()) != 3 || len(ev.Transitions) != 0 {
		t.Errorf("immediate evaluation = %+v", ev)
	}
}

func TestAlarmEmail(t *testing.T) {
	r, _ := Lookup("app-kms-errors")
	ev := Evaluate(r.Firing, at(0, 3))
	subject, body := r.AlarmEmail(ev.Transitions[0], NotificationContext{
		Region: "us-east-1", RegionName: "US East (N. Virginia)", Account: "111122223333",
		TopicARN: "arn:aws:sns:us-east-1:111122223333:kmswatch-dev-alerts", StackPrefix: "kmswatch-dev",
	})
	if want := `ALARM: "kmswatch-dev-app-kms-errors" in US East (N. Virginia)`; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	for _, want := range []string{
		"- State Change:               OK -> ALARM",
		"1 out of the last 1 datapoints [3.0 (24/11/26 10:00:00)] was greater than or equal to the threshold (2.0) (minimum 1 datapoint for OK -> ALARM transition)",
		"- Timestamp:                  Tuesday 24 November, 2026 10:01:00 UTC",
		"- MetricName:                          AppKmsErrors",
		"GreaterThanOrEqualToThreshold 2.0 for at least 1 of the last 1 period(s) of 60 seconds",
		"- TreatMissingData:                    notBreaching",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}
