package rules

import (
	"strings"
	"testing"
	"time"

	appkms "github.com/kmswatch/kmswatch/app/kms"
)

// The tolerance of app-decrypt-unserved against the false-positive sources its definition names
// (catalog_metrics.go), evaluated as CloudWatch would: KMS's count minus the app's, per minute.

func unservedFiring(t *testing.T) Firing {
	t.Helper()
	r, _ := Lookup("app-decrypt-unserved")
	return r.Firing
}

// minutes returns n event times in each of the minutes from..to (inclusive) after t0.
func minutes(from, to, n int) []time.Time {
	var out []time.Time
	for m := from; m <= to; m++ {
		out = append(out, burst(m, n)...)
	}
	return out
}

// A copy of the credentials decrypting five records a second, while the app serves one a minute:
// ALARM at the first evaluation that sees two breaching minutes.
func TestUnservedFiresOnACopyOfTheCredentials(t *testing.T) {
	f := unservedFiring(t)
	served := minutes(0, 9, 1)
	kms := joined(served, minutes(2, 9, 300))
	ev := EvaluateDifference(f, Delayed(kms, 0), Delayed(served, 0))
	if len(ev.Transitions) == 0 || ev.Transitions[0].To != StateAlarm || !ev.Transitions[0].At.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("transitions %s, want OK->ALARM@4m (minutes 2 and 3 breach)", describe(ev))
	}
}

// What is not misuse stays below the alarm.
func TestUnservedToleratesWhatIsNotMisuse(t *testing.T) {
	f := unservedFiring(t)
	var edgeKMS, edgeServed []time.Time // each minute's last decrypt at :59.99, its line at :00.01 of the next
	for m := range 10 {
		end := t0.Add(time.Duration(m+1) * time.Minute)
		edgeKMS = append(edgeKMS, append(burst(m, 99), end.Add(-10*time.Millisecond))...)
		edgeServed = append(edgeServed, append(burst(m, 99), end.Add(10*time.Millisecond))...)
	}
	steady := minutes(0, 9, 100) // 100 decrypts a minute, served
	for _, tc := range []struct {
		name        string
		kms, served []time.Time
		servedLate  time.Duration // the app's count reaching CloudWatch after KMS's
	}{
		{"the app's own traffic", steady, steady, 0},
		{"an SDK retry after a lost response, every attempt served by KMS once", joined(steady, burst(4, appkms.NewRetryer().MaxAttempts()-1)), steady, 0},
		{"a retry burst in each of two minutes far apart", joined(steady, burst(1, 4), burst(8, 4)), steady, 0},
		{"a minute's served lines lost (a task killed before its driver sent them)", steady, minutes(0, 9, 100)[100:], 0},
		{"a decrypt at hh:mm:59.99 that the app counts in the next minute, every minute", edgeKMS, edgeServed, 0},
		{"the app's count a minute later than KMS's", steady, steady, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := EvaluateDifference(f, Delayed(tc.kms, 0), Delayed(tc.served, tc.servedLate))
			if len(ev.Transitions) != 0 {
				t.Errorf("transitions %s, want none", describe(ev))
			}
		})
	}
}

// The assumption the tolerance rests on, shown: if the app's count reached CloudWatch two minutes
// after KMS's, two data points at a time would miss their served count and the alarm would fire.
func TestUnservedAssumesTheAppsCountIsAtMostAMinuteBehind(t *testing.T) {
	steady := minutes(0, 9, 100)
	if ev := EvaluateDifference(unservedFiring(t), Delayed(steady, 0), Delayed(steady, 2*time.Minute)); len(ev.Transitions) == 0 {
		t.Error("no alarm with the app's count two minutes late: the test above proves nothing about the lag it tolerates")
	}
}

// The tolerance covers the worst retry burst the app's SDK client makes, and the join's window
// covers the app's KMS call timeout.
func TestToleranceKeepsUpWithTheApp(t *testing.T) {
	f := unservedFiring(t)
	if retries := appkms.NewRetryer().MaxAttempts() - 1; float64(retries) >= f.Threshold {
		t.Errorf("the app's client retries up to %d times, the unserved threshold is %g: one lost response would breach", retries, f.Threshold)
	}
	if servedLineLag < appkms.DefaultTimeout+time.Second {
		t.Errorf("the join waits %s for a served line, the app's KMS calls take up to %s (CloudTrail's whole seconds add one)", servedLineLag, appkms.DefaultTimeout)
	}
}

// A subtracted series that only ever takes away never breaches, and an empty one leaves the
// other whole: "Missing values in a time series are treated as 0".
func TestEvaluateDifferenceTreatsMissingAsZero(t *testing.T) {
	f := Firing{Period: time.Minute, EvaluationPeriods: 1, Threshold: 5}
	if ev := EvaluateDifference(f, nil, Delayed(minutes(0, 3, 50), 0)); len(ev.Transitions) != 0 {
		t.Errorf("only subtractions: %s", describe(ev))
	}
	ev := EvaluateDifference(f, Delayed(burst(0, 5), 0), nil)
	if len(ev.Transitions) == 0 || !ev.Transitions[0].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("5 against nothing: %s, want OK->ALARM@1m", describe(ev))
	}
	if ev := EvaluateDifference(Firing{Immediate: true}, Delayed(burst(0, 5), 0), nil); len(ev.Periods) != 0 {
		t.Errorf("an immediate firing has no difference to evaluate: %+v", ev)
	}
}

// The alarm email of a metric-math alarm lists what it reads and which value it watches, with the
// stack's app key, rather than the empty metric of a metric filter's alarm.
func TestUnservedAlarmEmailNamesItsMetrics(t *testing.T) {
	r, _ := Lookup("app-decrypt-unserved")
	f := r.Firing
	served := minutes(0, 9, 1)
	ev := EvaluateDifference(f, Delayed(joined(served, minutes(2, 9, 300)), 0), Delayed(served, 0))
	if len(ev.Transitions) == 0 {
		t.Fatal("no transition")
	}
	_, body := r.AlarmEmail(ev.Transitions[0], NotificationContext{Region: "us-east-1", RegionName: "US East (N. Virginia)",
		Account: "111122223333", StackPrefix: "kmswatch-dev", AppKeyARN: exampleKeyARN})
	for _, want := range []string{
		"when the value it watches is GreaterThanOrEqualToThreshold 5.0 for at least 2 of the last 12 period(s) of 60 seconds",
		"- kms: AWS/KMS SuccessfulRequest [KeyArn=" + exampleKeyARN + ", Operation=Decrypt], Sum per 60 seconds\n",
		"- served: kmswatch/kmswatch-dev AppDecryptsServed [], Sum per 60 seconds\n",
		"- unserved = kms - served (the value the alarm watches)\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("email lacks %q:\n%s", want, body)
		}
	}
	rate, _ := Lookup("app-key-decrypt-rate")
	band := rate.Firing
	band.AnomalyBand = 2
	_, body = rate.WithFiring(band).AlarmEmail(ev.Transitions[0], NotificationContext{AppKeyARN: exampleKeyARN})
	if !strings.Contains(body, "GreaterThanUpperThreshold of ANOMALY_DETECTION_BAND(kms, 2)") {
		t.Errorf("band email:\n%s", body)
	}
}
