package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// labErrorAt is a failed Decrypt by the lab's task role: what app-kms-errors counts.
func labErrorAt(t time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventSource":"kms.amazonaws.com","eventName":"Decrypt",`+
		`"errorCode":"IncorrectKeyException","sourceIPAddress":"10.0.1.37","userIdentity":{"type":"AssumedRole",`+
		`"arn":"arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/ecs-task-1",`+
		`"sessionContext":{"sessionIssuer":{"arn":%q}}}}`, t.Format(time.RFC3339), labRole)
}

// steadyErrors is a history whose distribution is known: 2,000 minutes with 3 errors each, and
// one minute, the 1,000th, with 30. For app-kms-errors (1-minute windows) that is 2,000 windows:
// p50 = p90 = p99 = p99.9 = 3 (the burst is one window, 0.05%), max 30. So the suggestion is
// floor(1.5 x 3) + 1 = 5; at 5 only the burst breaches: one alarm, in ALARM for the 21 periods
// the alarm looks back; at 2 every minute breaches: one alarm for the whole history.
func steadyErrors(t *testing.T) string {
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	var lines []string
	for m := range 2000 {
		n := 3
		if m == 1000 {
			n = 30
		}
		for i := range n {
			lines = append(lines, labErrorAt(start.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Second)))
		}
	}
	return writeDir(t, map[string][]byte{"trail.jsonl": []byte(strings.Join(lines, "\n"))})
}

func tuneJSON(t *testing.T, args ...string) (tuning, result) {
	t.Helper()
	r := runCLI(append([]string{"tune", "--json"}, args...)...)
	var out tuning
	if r.code == exitOK || r.code == exitFindings {
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("tune --json: %v\n%s", err, r.stdout)
		}
	}
	return out, r
}

func TestTuneSuggestsFromTheDistribution(t *testing.T) {
	out, r := tuneJSON(t, "--role-arn", labRole, "--rule", "app-kms-errors", steadyErrors(t))
	if r.code != exitOK || len(out.Rules) != 1 {
		t.Fatalf("exit %d, %d rules: %s", r.code, len(out.Rules), r.stderr)
	}
	got := out.Rules[0]
	if got.Windows != 2000 || got.WindowsWithEvents != 2000 || got.Max != 30 || got.Matched != 2000*3+27 {
		t.Errorf("windows %d (%d with events), max %d, matched %d: want 2000, 2000, 30, 6027", got.Windows, got.WindowsWithEvents, got.Max, got.Matched)
	}
	for _, p := range got.Percentiles {
		if p.Count != 3 {
			t.Errorf("%s = %d, want 3", p.Name, p.Count)
		}
	}
	if got.Suggested == nil || *got.Suggested != 5 {
		t.Fatalf("suggested %v, want floor(1.5 x 3) + 1 = 5", got.Suggested)
	}
	if len(got.ConfigSet) != 1 || got.ConfigSet[0] != "pulumi config set appKmsErrorsThreshold 5" {
		t.Errorf("config lines %q", got.ConfigSet)
	}
	want := map[int]candidate{
		2:  {Alarms: 1, MinutesInAlarm: 2000 + 20, BreachingWindows: 2000}, // from the first minute's end to 21 periods past the last
		4:  {Alarms: 1, MinutesInAlarm: 21, BreachingWindows: 1},           // p99 + 1 and p99.9 + 1
		5:  {Alarms: 1, MinutesInAlarm: 21, BreachingWindows: 1},
		31: {Alarms: 0, MinutesInAlarm: 0, BreachingWindows: 0},
	}
	if len(got.Candidates) != len(want) {
		t.Errorf("candidates %+v, want thresholds 2, 4, 5, 31", got.Candidates)
	}
	for _, c := range got.Candidates {
		w, ok := want[c.Threshold]
		if !ok || c.Alarms != w.Alarms || c.MinutesInAlarm != w.MinutesInAlarm || c.BreachingWindows != w.BreachingWindows {
			t.Errorf("threshold %d: %d alarms, %d minutes in ALARM, %d breaching windows; want %+v", c.Threshold, c.Alarms, c.MinutesInAlarm, c.BreachingWindows, w)
		}
	}
	if out.Method == "" || out.From.IsZero() || !out.To.Equal(time.Date(2026, 11, 25, 9, 19, 2, 0, time.UTC)) {
		t.Errorf("method %q, history %s to %s", out.Method, out.From, out.To)
	}
}

func TestTuneTable(t *testing.T) {
	r := runCLI("tune", "--role-arn", labRole, "--rule", "app-kms-errors", "--rule", "kms-key-disable-or-delete", steadyErrors(t))
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"app-kms-errors [high] fires >= 2 per 1m in 1 of 21 periods (appKmsErrorsThreshold)",
		"6,027 records matched; 2,000 windows of 1 min, one per evaluation minute, 2,000 with events",
		"count per window: p50 3, p90 3, p99 3, p99.9 3, max 30, mean 3.01",
		"windows by count: 0: 0, 1: 0, 2-3: 1,999, 4-7: 0, 8-15: 0, 16-31: 1",
		"  5          1       21                1                  suggested: floor(1.5 x p99.9 3) + 1\n",
		"  to apply: pulumi config set appKmsErrorsThreshold 5\n",
		"kms-key-disable-or-delete: not tuned: alarms on a single event by design: history does not tune it",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
}

// Tuning at another period (--set) prints that setting too: the stack does not have it yet.
func TestTuneAtAnotherPeriodSaysSoInTheConfigLines(t *testing.T) {
	out, r := tuneJSON(t, "--role-arn", labRole, "--rule", "app-kms-errors", "--set", "appKmsErrorsPeriodSeconds=120", steadyErrors(t))
	if r.code != exitOK || len(out.Rules) != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := out.Rules[0]
	// two-minute windows of a steady 3 a minute hold 6: p99.9 6, suggestion 10
	if got.PeriodSeconds != 120 || got.Suggested == nil || *got.Suggested != 10 {
		t.Errorf("period %d s, suggested %v: want 120 and 10", got.PeriodSeconds, got.Suggested)
	}
	want := []string{"pulumi config set appKmsErrorsThreshold 10", "pulumi config set appKmsErrorsPeriodSeconds 120"}
	if strings.Join(got.ConfigSet, "\n") != strings.Join(want, "\n") {
		t.Errorf("config lines %q, want %q", got.ConfigSet, want)
	}
}

func TestTuneReadsTheStackFile(t *testing.T) {
	stack := writeStack(t, "name: kmswatch\n", "config:\n  kmswatch:appKmsErrorsThreshold: 4\n")
	out, r := tuneJSON(t, "--role-arn", labRole, "--rule", "app-kms-errors", "--stack-config", stack, steadyErrors(t))
	if r.code != exitOK || len(out.Rules) != 1 || out.Rules[0].Current != 4 || out.Firing != "the stack file "+stack {
		t.Fatalf("exit %d, firing %q, rules %+v: want the stack's threshold 4 as now", r.code, out.Firing, out.Rules)
	}
	applied := writeStack(t, "name: kmswatch\n", "config:\n  kmswatch:appKmsErrorsThreshold: \"5\"\n")
	if r := runCLI("tune", "--role-arn", labRole, "--rule", "app-kms-errors", "--stack-config", applied, steadyErrors(t)); !strings.Contains(r.stdout,
		"  applied already: the threshold is the suggestion (pulumi config set appKmsErrorsThreshold 5)\n") {
		t.Errorf("a stack with the suggestion applied:\n%s", r.stdout)
	}
	c := out.Rules[0].Candidates[0] // 4 is also p99 + 1, the lowest candidate
	if c.Threshold != 4 || c.Why[0] != "now" {
		t.Errorf("candidate %+v: want 4 labelled now first", c)
	}
}

func TestTuneWithoutHistoryForARule(t *testing.T) {
	out, r := tuneJSON(t, "--role-arn", labRole, steadyErrors(t))
	// Without --app-key-arn, app-key-decrypt-rate is skipped, as app-decrypt-unserved always is;
	// the two key rules and the join notify per event, or on one.
	if r.code != exitOK || len(out.Rules) != 3 || len(out.NotTuned) != 3 {
		t.Fatalf("exit %d, %d rules tuned, %d not: want the three log volume rules and three others", r.code, len(out.Rules), len(out.NotTuned))
	}
	if !strings.Contains(r.stderr, "kmswatch tune: note: app-key-decrypt-rate skipped: it counts the app key's decrypts; pass --app-key-arn") ||
		!strings.Contains(r.stderr, "kmswatch tune: note: app-decrypt-unserved skipped") {
		t.Errorf("stderr %q: want the skipped rules named, by tune", r.stderr)
	}
	withKey, r := tuneJSON(t, "--role-arn", labRole, "--app-key-arn", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", steadyErrors(t))
	if r.code != exitOK || len(withKey.Rules) != 4 || withKey.Rules[3].ID != "app-key-decrypt-rate" {
		t.Fatalf("exit %d, %d rules tuned: want app-key-decrypt-rate tuned too with --app-key-arn", r.code, len(withKey.Rules))
	}
	for _, rule := range out.Rules[1:] { // app-decrypt-volume, app-decrypt-denied: nothing matched
		if rule.Suggested != nil || len(rule.ConfigSet) != 0 || len(rule.Candidates) != 1 || len(rule.Notes) == 0 {
			t.Errorf("%s: suggested %v, config %q, candidates %+v: want no suggestion, and a note", rule.ID, rule.Suggested, rule.ConfigSet, rule.Candidates)
		}
	}
}

// A rule that matched in under 0.1% of the windows is suggested 1, and tune says what that means.
func TestTuneSaysWhenTheSuggestionAlarmsOnOneEvent(t *testing.T) {
	out, r := tuneJSON(t, "--role-arn", labRole, "--rule", "app-kms-errors", samplesDir)
	if r.code != exitOK || len(out.Rules) != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := out.Rules[0]
	if got.Suggested == nil || *got.Suggested != 1 || len(got.Notes) != 1 ||
		!strings.Contains(got.Notes[0], "it matched in 1 of 4,237,566 windows, under 0.1%: the 99.9th percentile is 0, so the suggestion alarms on a single event; keep 2") {
		t.Errorf("suggested %v, notes %q", got.Suggested, got.Notes)
	}
}

func TestTuneUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no files", []string{"tune"}, exitUsage, "kmswatch tune: no FILE or DIR given"},
		{"only rules with no threshold", []string{"tune", "--rule", "kms-key-policy-change", "x.json"}, exitUsage, "no volume rule to tune among [kms-key-policy-change]"},
		{"a bad setting", []string{"tune", "--set", "appKmsErrorsThreshold=0", "x.json"}, exitUsage, "appKmsErrorsThreshold 0: must be at least 1"},
		{"an unknown rule", []string{"tune", "--rule", "nope", "x.json"}, exitUsage, `kmswatch tune: --rule "nope": no such rule`},
		{"nothing to read", []string{"tune", "--role-arn", labRole, "does-not-exist.json"}, exitFindings, "kmswatch tune: does-not-exist.json: no such file or directory"},
		{"help", []string{"tune", "--help"}, exitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q: want %d with %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
	if r := runCLI("tune", "--help"); !strings.Contains(r.stdout, "floor(1.5 x p99.9) + 1") || !strings.Contains(r.stdout, "app-kms-errors, app-decrypt-volume, app-decrypt-denied, and app-key-decrypt-rate") {
		t.Errorf("tune --help does not say the method and the volume rules:\n%s", r.stdout)
	}
}

// The history's length is rounded, not cut: the times beside it are shown to the second.
func TestSpanLengthRoundsToTheMinute(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3*time.Minute + 59*time.Second:                 "4 min",
		3*time.Minute + 20*time.Second:                 "3 min",
		25*time.Hour + 33*time.Minute:                  "25 h 33 min",
		47*time.Hour + 59*time.Minute + 45*time.Second: "2 days",
		2943 * 24 * time.Hour:                          "2,943 days",
	} {
		if got := spanLength(d); got != want {
			t.Errorf("spanLength(%v) = %q, want %q", d, got, want)
		}
	}
}
