package rules

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// burst returns n event times inside minute m, none on the minute itself, however large n is.
func burst(m, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t0.Add(time.Duration(m)*time.Minute + time.Second + time.Duration(i)*58*time.Second/time.Duration(n))
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
	perMinute := func(threshold float64, n, m int) Firing {
		return Firing{Period: time.Minute, EvaluationPeriods: n, DatapointsToAlarm: m, Threshold: threshold}
	}
	lab, _ := Lookup("app-kms-errors")
	for _, tc := range []struct {
		name      string
		f         Firing
		times     []time.Time
		want      string // transitions
		breaching int    // windows whose Sum reaches the threshold
	}{
		{"no events, no transition", perMinute(2, 1, 1), nil, "", 0},
		{"below threshold stays OK", perMinute(2, 1, 1), at(0, 1), "", 0},
		{"threshold reached alarms at the minute's end, then OK after the next empty minute",
			perMinute(2, 1, 1), at(0, 2), "OK->ALARM@1m0s ALARM->OK@2m0s", 1},
		{"two breaching minutes in a row keep ALARM", perMinute(2, 1, 1), joined(at(0, 3), at(1, 3)),
			"OK->ALARM@1m0s ALARM->OK@3m0s", 2},
		{"a minute with events below threshold returns to OK", perMinute(2, 1, 1), joined(at(0, 2), at(1, 1), at(2, 2)),
			"OK->ALARM@1m0s ALARM->OK@2m0s OK->ALARM@3m0s ALARM->OK@4m0s", 2},
		{"a gap (missing data) is notBreaching", perMinute(2, 1, 1), joined(at(0, 2), at(5, 2)),
			"OK->ALARM@1m0s ALARM->OK@2m0s OK->ALARM@6m0s ALARM->OK@7m0s", 2},
		{"2 of 2 needs two breaching periods in a row", perMinute(2, 2, 0), joined(at(0, 2), at(1, 2)),
			"OK->ALARM@2m0s ALARM->OK@3m0s", 2},
		{"2 of 2 with a gap between breaches never alarms", perMinute(2, 2, 2), joined(at(0, 2), at(2, 2)), "", 2},
		// "The breaching data points don't have to be consecutive"
		{"2 of 3 alarms on breaches that are not consecutive", perMinute(2, 3, 2), joined(at(0, 2), at(2, 2)),
			"OK->ALARM@3m0s ALARM->OK@4m0s", 2},
		{"events out of order are sorted", perMinute(2, 1, 1), []time.Time{t0.Add(30 * time.Second), t0.Add(5 * time.Minute), t0},
			"OK->ALARM@1m0s ALARM->OK@2m0s", 1},
		{"five-minute periods sum across minutes", Firing{Period: 5 * time.Minute, EvaluationPeriods: 1, Threshold: 3},
			joined(at(0, 1), at(2, 1), at(4, 1)), "OK->ALARM@5m0s ALARM->OK@6m0s", 1},
		// "at the end of minute 5 the alarm evaluates based on data from minutes 1 to 5. Then at the
		// end of minute 6, the alarm is evaluated based on the data from minutes 2 to 6."
		{"a period slides by a minute: minutes 4 and 5 share windows", Firing{Period: 5 * time.Minute, EvaluationPeriods: 1, Threshold: 2},
			joined(at(4, 1), at(5, 1)), "OK->ALARM@6m0s ALARM->OK@10m0s", 4},
		{"the lab's rule stays in ALARM while the burst is among its 21 periods", lab.Firing, at(0, 2),
			"OK->ALARM@1m0s ALARM->OK@22m0s", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := Evaluate(tc.f, tc.times)
			if got := describe(ev); got != tc.want {
				t.Errorf("transitions = %q, want %q", got, tc.want)
			}
			if got := len(ev.Breaching()); got != tc.breaching {
				t.Errorf("breaching windows = %d, want %d", got, tc.breaching)
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

func TestEvaluateRejectsAFiringCloudWatchWouldNot(t *testing.T) {
	for _, f := range []Firing{
		{Period: 30 * time.Second, EvaluationPeriods: 1, Threshold: 1},
		{Period: time.Minute, EvaluationPeriods: 2, DatapointsToAlarm: 3, Threshold: 1},
	} {
		if ev := Evaluate(f, at(0, 5)); len(ev.Periods) != 0 || len(ev.Transitions) != 0 {
			t.Errorf("%+v evaluated to %+v", f, ev)
		}
	}
}

// oneMinuteAlarm is a rule's alarm as the lab and the first kmswatch had it: one period, no
// look-back.
func oneMinuteAlarm(f Firing) Firing {
	return Firing{Period: f.Period, EvaluationPeriods: 1, Threshold: f.Threshold}
}

// Each log rule's alarm still goes to ALARM when its burst reaches CloudWatch Logs 6 or 15 minutes
// late, at the first evaluation after the burst arrived; the old one-period alarm never does.
func TestLogRulesFireOnLateBursts(t *testing.T) {
	tested := 0
	for _, r := range Default() {
		if r.Source != TrailLogs && r.Source != AppLogs {
			continue
		}
		tested++
		events := burst(0, int(math.Ceil(r.Firing.Threshold)))
		for _, delay := range []time.Duration{6 * time.Minute, 15 * time.Minute} {
			ev := EvaluateArrivals(r.Firing, Delayed(events, delay))
			want := t0.Add(delay + time.Minute) // the burst arrives within minute `delay`
			if len(ev.Transitions) == 0 || ev.Transitions[0].To != StateAlarm || !ev.Transitions[0].At.Equal(want) {
				t.Errorf("%s, %s late: transitions %s, want OK->ALARM@%s", r.ID, delay, describe(ev), want.Sub(t0))
			}
			if old := EvaluateArrivals(oneMinuteAlarm(r.Firing), Delayed(events, delay)); len(old.Transitions) != 0 {
				t.Errorf("%s, %s late: the one-period alarm fired (%s), so the test proves nothing", r.ID, delay, describe(old))
			}
		}
	}
	if tested != 4 {
		t.Errorf("%d log rules tested, want 4", tested)
	}
}

// LateTolerance is exact for a burst that fills one period: the alarm fires when the burst is that
// late and misses it a minute later.
func TestLateToleranceIsExact(t *testing.T) {
	lab, _ := Lookup("app-kms-errors")
	fiveMinutes := Firing{Period: 5 * time.Minute, EvaluationPeriods: 5, DatapointsToAlarm: 1, Threshold: 5}
	for _, tc := range []struct {
		name   string
		f      Firing
		events []time.Time
	}{
		{"the lab's rule, two errors in a minute", lab.Firing, burst(0, 2)},
		{"five minutes, one event in each minute of a period", fiveMinutes, joined(burst(0, 1), burst(1, 1), burst(2, 1), burst(3, 1), burst(4, 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tol := tc.f.LateTolerance()
			if tol != 20*time.Minute {
				t.Fatalf("tolerance %s, want 20m", tol)
			}
			if ev := EvaluateArrivals(tc.f, Delayed(tc.events, tol)); len(ev.Transitions) == 0 {
				t.Errorf("%s late: no alarm", tol)
			}
			if ev := EvaluateArrivals(tc.f, Delayed(tc.events, tol+time.Minute)); len(ev.Transitions) != 0 {
				t.Errorf("%s late: %s, want the burst missed", tol+time.Minute, describe(ev))
			}
		})
	}
}

// If a metric filter stamped data points with the delivery time (CloudTrail's guide says the log
// group shows when the event was delivered), a late burst would be current data and even the
// one-period alarm would fire; the tolerant alarm fires either way.
func TestDeliveryStampedDataFiresEitherWay(t *testing.T) {
	lab, _ := Lookup("app-kms-errors")
	late := Delayed(burst(0, 2), 15*time.Minute)
	stamped := make([]time.Time, len(late))
	for i, a := range late {
		stamped[i] = a.Delivered
	}
	for _, f := range []Firing{oneMinuteAlarm(lab.Firing), lab.Firing} {
		if ev := Evaluate(f, stamped); len(ev.Transitions) == 0 || !ev.Transitions[0].At.Equal(t0.Add(16*time.Minute)) {
			t.Errorf("%s: %s, want OK->ALARM@16m0s", f, describe(ev))
		}
	}
}

func TestLogRulesKeepTheirMeaningAndTolerateFifteenMinutes(t *testing.T) {
	for _, r := range Default() {
		if r.Source != TrailLogs && r.Source != AppLogs {
			continue
		}
		if err := r.Firing.Validate(); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
		if r.Firing.Datapoints() != 1 {
			t.Errorf("%s: %d breaching periods needed, want 1 (one period over the threshold fires, as the lab's)", r.ID, r.Firing.Datapoints())
		}
		if got := r.Firing.LateTolerance(); got < 15*time.Minute {
			t.Errorf("%s: tolerates %s of delivery delay, want at least the lab's 15m", r.ID, got)
		}
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
		"- Description:                " + AlarmDescription(r) + "\n",
		"- Description:                [high] " + r.Title + " (app-kms-errors). " + r.Description + " What to do: " + r.Runbook + "\n",
		"- State Change:               OK -> ALARM",
		"1 out of the last 21 datapoints [3.0 (24/11/26 10:00:00)] was greater than or equal to the threshold (2.0) (minimum 1 datapoint for OK -> ALARM transition)",
		"- Timestamp:                  Tuesday 24 November, 2026 10:01:00 UTC",
		"- MetricNamespace:                     kmswatch/kmswatch-dev\n", // the stack's, as its alarm reads it
		"- MetricName:                          AppKmsErrors",
		"GreaterThanOrEqualToThreshold 2.0 for at least 1 of the last 21 period(s) of 60 seconds",
		"- TreatMissingData:                    notBreaching",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	okReason := ev.Transitions[1].Reason(r.Firing)
	if want := "21 out of the last 21 datapoints were not greater than or equal to the threshold (2.0) (minimum 21 datapoints for ALARM -> OK transition)."; !strings.HasSuffix(okReason, want) {
		t.Errorf("OK reason = %q, want it to end %q", okReason, want)
	}
}

// BenchmarkEvaluate times one rule's alarm over the TARGETS corpus' shape: 200,000 matches, one a
// second (55 hours of evaluations every minute). go test -run XXX -bench Evaluate ./infra/rules/
func BenchmarkEvaluate(b *testing.B) {
	times := make([]time.Time, 200_000)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Second)
	}
	f := tolerant(5*time.Minute, 1000)
	for b.Loop() {
		if ev := Evaluate(f, times); len(ev.Periods) == 0 {
			b.Fatal("no periods")
		}
	}
}

func TestTruncateKeepsWithinTheLimitAndWholeRunes(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"short text unchanged", "abc", 5, "abc"},
		{"exact length unchanged", "abcde", 5, "abcde"},
		{"long text cut with an ellipsis", "abcdefgh", 6, "abc…"},
		{"cut never splits a multibyte rune", "ééééé", 7, "éé…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.in, tt.limit)
			if got != tt.want || len(got) > tt.limit || !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}

// The email's description is the AlarmDescription the stack deploys, within CloudWatch's limit
// however long a rule's texts grow.
func TestAlarmDescriptionIsWhatTheStackDeploysWithinTheLimit(t *testing.T) {
	for _, r := range Default() {
		d := AlarmDescription(r)
		if len(d) > MaxAlarmDescription || !utf8.ValidString(d) || !strings.HasPrefix(d, "["+string(r.Severity)+"] "+r.Title+" ("+r.ID+"). ") {
			t.Errorf("%s: description of %d bytes: %q", r.ID, len(d), d)
		}
	}
	long, _ := Lookup("app-kms-errors")
	long.Runbook = strings.Repeat("é", MaxAlarmDescription)
	if d := AlarmDescription(long); len(d) > MaxAlarmDescription || !utf8.ValidString(d) || !strings.HasSuffix(d, "…") {
		t.Errorf("a long runbook gives %d bytes, ending %q", len(d), d[len(d)-8:])
	}
}
