package rules

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// appLine is one of the app's decrypt_failed lines, which app-decrypt-denied counts.
func appLine(t time.Time) string {
	return fmt.Sprintf(`{"time":%q,"level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"kms_refused","client_ip":"198.51.100.7"}`,
		t.Format(time.RFC3339Nano))
}

// A trail record that no rule matches, to stretch the span.
func quietRecord(t time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventSource":"kms.amazonaws.com","eventName":"ListKeys","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/Alice"}}`,
		t.Format(time.RFC3339))
}

func TestReplaySpanCoversEveryRecordJudged(t *testing.T) {
	lines := []string{
		quietRecord(t0.Add(-3 * time.Hour)), // matched by nothing, yet the history starts here
		appLine(t0.Add(30 * time.Second)),
		quietRecord(t0.Add(2 * time.Hour)),
		// Lake's spelling and an offset: parsed, and later than every other record.
		`{"eventTime":"2026-11-24 13:00:00.000","eventSource":"kms.amazonaws.com","eventName":"ListAliases"}`,
		appLine(t0.Add(4 * time.Hour).In(time.FixedZone("CET", 3600))),
	}
	res := ReplayData("span.jsonl", []byte(strings.Join(lines, "\n")), ReplayOptions{Span: true})
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	if want := t0.Add(-3 * time.Hour); !res.First().Equal(want) {
		t.Errorf("First %s, want %s", res.First(), want)
	}
	if want := t0.Add(4 * time.Hour); !res.Last().Equal(want) {
		t.Errorf("Last %s, want %s", res.Last(), want)
	}
}

// Records in CloudTrail's spelling skip the parse once inside the span; the span must come out
// the same whatever order they arrive in, across files read by one worker.
// A replay that asks for neither keeps neither: the series covers the matches' stretch only.
func TestReplayWithoutSpanOrKeys(t *testing.T) {
	denied, _ := Lookup("app-decrypt-denied")
	policy, _ := Lookup("kms-key-policy-change")
	lines := []string{quietRecord(t0), appLine(t0.Add(20 * time.Minute)), quietRecord(t0.Add(time.Hour)), keyCallAt("PutKeyPolicy", t0.Add(30*time.Minute))}
	res := ReplayData("plain.jsonl", []byte(strings.Join(lines, "\n")), ReplayOptions{Rules: []Rule{denied, policy}})
	if !res.First().IsZero() || !res.Last().IsZero() {
		t.Errorf("span %s .. %s kept unasked", res.First(), res.Last())
	}
	if len(res.Matches) != 2 || res.Matches[1].Key != "" {
		t.Errorf("matches %+v: want 2, no key kept unasked", res.Matches)
	}
	if s := res.Series(0); !s.Start.Equal(t0.Add(16*time.Minute)) || s.Len != 5 {
		t.Errorf("series from %s, %d windows: want the five windows holding minute 20", s.Start, s.Len)
	}
}

func TestReplaySpanInAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var lines []string
	lo, hi := t0, t0
	for range 500 {
		ts := t0.Add(time.Duration(rng.IntN(100_000)-50_000) * time.Second)
		if ts.Before(lo) {
			lo = ts
		}
		if ts.After(hi) {
			hi = ts
		}
		lines = append(lines, quietRecord(ts))
	}
	lines = append(lines, quietRecord(t0))
	files := map[string][]byte{}
	for i := 0; i < len(lines); i += 100 {
		files[fmt.Sprintf("f%02d.jsonl", i/100)] = []byte(strings.Join(lines[i:min(i+100, len(lines))], "\n"))
	}
	res := Replay([]string{writeFiles(t, files)}, ReplayOptions{Workers: 1, Span: true})
	if !res.First().Equal(lo) || !res.Last().Equal(hi) {
		t.Errorf("span %s .. %s, want %s .. %s", res.First(), res.Last(), lo, hi)
	}
}

func TestSeriesHoldsEveryWindowOfTheSpan(t *testing.T) {
	denied, _ := Lookup("app-decrypt-denied") // >= 5 per 5 min
	lines := []string{quietRecord(t0), quietRecord(t0.Add(59*time.Minute + 59*time.Second))}
	for i := range 6 { // six in minute 20: every window holding minute 20 breaches
		lines = append(lines, appLine(t0.Add(20*time.Minute+time.Duration(i)*time.Second)))
	}
	lines = append(lines, appLine(t0.Add(40*time.Minute))) // one, alone
	res := ReplayData("s.jsonl", []byte(strings.Join(lines, "\n")), ReplayOptions{Rules: []Rule{denied}, Span: true})
	s := res.Series(0)
	// Windows from the one that ends with minute 0 (starting 4 minutes before t0) to the one
	// starting in minute 59.
	if !s.Start.Equal(t0.Add(-4*time.Minute)) || s.Len != 64 || s.Period != 5*time.Minute || s.Threshold != 5 {
		t.Fatalf("series start %s, %d windows, period %s, threshold %g", s.Start, s.Len, s.Period, s.Threshold)
	}
	var counts []int
	breaching := 0
	for k, w := range s.All() {
		if !w.Start.Equal(s.WindowStart(k)) {
			t.Fatalf("window %d starts %s, want %s", k, w.Start, s.WindowStart(k))
		}
		counts = append(counts, w.Count)
		if w.Breaching {
			breaching++
		}
	}
	if len(counts) != s.Len {
		t.Fatalf("All yielded %d windows, want %d", len(counts), s.Len)
	}
	for k, c := range counts {
		start := s.WindowStart(k).Sub(t0) / time.Minute
		want := 0
		if start > 15 && start <= 20 {
			want = 6
		}
		if start > 35 && start <= 40 {
			want = 1
		}
		if c != want {
			t.Errorf("window at %+d min: count %d, want %d", start, c, want)
		}
	}
	if breaching != 5 {
		t.Errorf("%d breaching windows, want the 5 that hold minute 20", breaching)
	}
	if k := s.Index(t0.Add(20*time.Minute + 30*time.Second)); k != 24 {
		t.Errorf("Index of minute 20 = %d, want 24", k)
	}
}

func TestSeriesOfARuleThatFiresAtOnceCountsPerMinute(t *testing.T) {
	change, _ := Lookup("kms-key-policy-change")
	var lines []string
	for _, sec := range []int{5, 10, 70} {
		lines = append(lines, keyCallAt("PutKeyPolicy", t0.Add(time.Duration(sec)*time.Second)))
	}
	res := ReplayData("c.jsonl", []byte(strings.Join(lines, "\n")), ReplayOptions{Rules: []Rule{change}, Span: true})
	s := res.Series(0)
	if s.Period != time.Minute || s.Threshold != 1 || s.Len != 2 {
		t.Fatalf("period %s, threshold %g, %d windows: want one-minute windows, 1, 2", s.Period, s.Threshold, s.Len)
	}
	if len(s.Events) != 2 || s.Events[0].Count != 2 || s.Events[1].Count != 1 || !s.Events[0].Breaching {
		t.Errorf("events %+v: want 2 then 1, each a firing", s.Events)
	}
}

func keyCallAt(name string, at time.Time) string {
	return strings.Replace(keyCall(name, `{"keyId":"`+exampleKeyARN+`"}`), "2026-11-24T10:00:00Z", at.Format(time.RFC3339), 1)
}

func TestSeriesOfAnEmptyReplay(t *testing.T) {
	res := ReplayData("empty.jsonl", []byte(`{"x":1}`), ReplayOptions{Span: true})
	for i := range res.Rules {
		if s := res.Series(i); s.Len != 0 || len(s.Events) != 0 {
			t.Errorf("rule %s: %d windows, %d with events; want none", res.Rules[i].ID, s.Len, len(s.Events))
		}
	}
}

// EvaluateMinutes must be Evaluate, fed per minute: same windows, same transitions.
func TestEvaluateMinutesIsEvaluate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	firings := []Firing{
		{Period: time.Minute, EvaluationPeriods: 21, DatapointsToAlarm: 1, Threshold: 2},
		{Period: 5 * time.Minute, EvaluationPeriods: 5, DatapointsToAlarm: 1, Threshold: 4},
		{Period: 2 * time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 3},
		{Immediate: true},
	}
	for run := range 20 {
		var times []time.Time
		perMinute := map[time.Time]int{}
		for range rng.IntN(300) {
			ts := t0.Add(time.Duration(rng.IntN(6*3600)) * time.Second)
			if rng.IntN(4) == 0 { // bursts
				for range rng.IntN(8) {
					times = append(times, ts)
					perMinute[ts.Truncate(time.Minute)]++
				}
			}
			times = append(times, ts)
			perMinute[ts.Truncate(time.Minute)]++
		}
		var minutes []MinuteCount
		for m, n := range perMinute {
			minutes = append(minutes, MinuteCount{Minute: m, Count: n})
		}
		for _, f := range firings {
			want, got := Evaluate(f, times), EvaluateMinutes(f, minutes)
			if f.Immediate { // per event; EvaluateMinutes has only the minute of each
				if len(got.Periods) != len(want.Periods) {
					t.Errorf("run %d, %s: %d firings, want %d", run, f, len(got.Periods), len(want.Periods))
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("run %d, %s: EvaluateMinutes differs from Evaluate: %d/%d windows, transitions %q, want %q",
					run, f, len(got.Periods), len(want.Periods), describe(got), describe(want))
			}
		}
	}
}

func TestMatchesNameTheirKey(t *testing.T) {
	policy, _ := Lookup("kms-key-policy-change")
	errs, _ := Lookup("app-kms-errors")
	for _, tc := range []struct {
		name, sample, record, want string
		rule                       Rule
	}{
		{name: "the key ARN in resources, not the bare id of keyId", sample: "kms-putkeypolicy.json", rule: policy,
			want: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{name: "the key as the caller named it, without resources", rule: policy,
			record: keyCall("CreateGrant", `{"keyId":"alias/ExampleAlias"}`), want: "alias/ExampleAlias"},
		{name: "the lab's failed decrypt", sample: "lab-decrypt-incorrectkey-taskrole.json", rule: errs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.record)
			if tc.sample != "" {
				data = mustReadSample(t, tc.sample)
			}
			res := ReplayData(tc.name, data, ReplayOptions{Rules: []Rule{tc.rule}, Params: labParams, MatchKeys: true})
			if len(res.Matches) != 1 {
				t.Fatalf("%d matches, want 1 (problems %v)", len(res.Matches), res.Problems)
			}
			got := res.Matches[0].Key
			if tc.want == "" {
				if got == "" || !strings.Contains(got, ":key/") {
					t.Errorf("key %q: want the key ARN the record names", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("key %q, want %q", got, tc.want)
			}
		})
	}
}
