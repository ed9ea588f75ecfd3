package rules

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current renderers")

// samplesDir holds the AWS-published CloudTrail records the rule cases name (see its README).
const samplesDir = "testdata/cloudtrail"

// mustSampleRecords returns the records of one AWS sample: the Records of a log file, or the
// file itself when it is a single record.
func mustSampleRecords(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	var file struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	if file.Records == nil {
		return [][]byte{data}
	}
	out := make([][]byte, len(file.Records))
	for i, r := range file.Records {
		out[i] = r
	}
	return out
}

func mustParse(t testing.TB, data []byte) Record {
	t.Helper()
	rec, err := ParseRecord(data)
	if err != nil {
		t.Fatalf("parse record: %v\n%s", err, data)
	}
	return rec
}

// caseRecords returns a case's records: its inline record or the records of its sample.
func caseRecords(t testing.TB, c Case) [][]byte {
	t.Helper()
	if c.Sample != "" {
		return mustSampleRecords(t, c.Sample)
	}
	return [][]byte{[]byte(c.Record)}
}

// TestRuleCases runs every rule against the test records beside its definition. A log file
// case passes when any of its records matches (Want true) or none does (Want false). A
// metric-math rule's record must count in the case's Input; an Offline rule's record is replayed
// with the case's other lines (With) and must be reported, or not.
func TestRuleCases(t *testing.T) {
	for _, r := range Default() {
		if len(r.Cases()) == 0 {
			t.Errorf("%s: no test records", r.ID)
		}
		for _, c := range r.Cases() {
			t.Run(r.ID+"/"+c.Name, func(t *testing.T) {
				switch {
				case r.Expression() != "":
					got := ""
					for _, data := range caseRecords(t, c) {
						if in := r.CountsIn(mustParse(t, data), c.Params); in != "" {
							got = in
						}
					}
					if (got != "") != c.Want || got != c.Input {
						t.Errorf("counts in %q, want %q (want %v)", got, c.Input, c.Want)
					}
				case r.join != nil:
					if got := reportedWith(t, r, c); got != c.Want {
						t.Errorf("reported = %v, want %v", got, c.Want)
					}
				default:
					got := false
					for _, data := range caseRecords(t, c) {
						got = got || r.Matches(mustParse(t, data), c.Params)
					}
					if got != c.Want {
						t.Errorf("match = %v, want %v", got, c.Want)
					}
				}
			})
		}
	}
}

// reportedWith replays an Offline rule's case record with the case's other lines and reports
// whether replay reported the record.
func reportedWith(t *testing.T, r Rule, c Case) bool {
	t.Helper()
	var b strings.Builder
	for _, data := range caseRecords(t, c) {
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			t.Fatal(err)
		}
		b.Write(compact.Bytes())
		b.WriteByte('\n')
	}
	b.WriteString(c.With)
	res := ReplayData(c.Name, []byte(b.String()), ReplayOptions{Rules: []Rule{r}, Params: c.Params})
	if len(res.Problems) > 0 {
		t.Fatalf("replay: %v", res.Problems)
	}
	return len(res.Matches) > 0
}

// TestSamplesTable checks each AWS-published sample against the table in the samples README,
// with the lab's task role and no key restriction.
func TestSamplesTable(t *testing.T) {
	want := map[string][]string{
		"kms-decrypt-success-iamuser.json":       nil,
		"kms-decrypt-incorrectkey-iamuser.json":  nil,
		"kms-decrypt-invalidstate-iamuser.json":  nil,
		"kms-encrypt-iamuser.json":               nil,
		"kms-disablekey.json":                    {"kms-key-disable-or-delete"},
		"kms-schedulekeydeletion.json":           {"kms-key-disable-or-delete"},
		"kms-putkeypolicy.json":                  {"kms-key-policy-change"},
		"kms-creategrant.json":                   {"kms-key-policy-change"},
		"kms-deletekey-serviceevent.json":        nil,
		"ebs-attach-encrypted-volume.json":       {"kms-key-policy-change"},
		"lab-decrypt-incorrectkey-taskrole.json": {"app-kms-errors"},
	}
	entries, err := os.ReadDir(samplesDir)
	if err != nil {
		t.Fatalf("samples: %v", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			if _, ok := want[e.Name()]; !ok {
				t.Errorf("sample %s has no expectation here", e.Name())
			}
		}
	}
	m := NewMatcher(Default(), labParams)
	for name, wantIDs := range want {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, data := range mustSampleRecords(t, name) {
				for _, i := range m.Match(mustParse(t, data), nil) {
					got = append(got, m.Rules()[i].ID)
				}
			}
			if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
				t.Errorf("rules matched = %v, want %v", got, wantIDs)
			}
		})
	}
}

// The two published patterns, as the lab guide and the CIS benchmark print them.
const (
	labPattern = `{ ($.errorCode = "*") && ($.eventSource = "kms.amazonaws.com") && ($.userIdentity.sessionContext.sessionIssuer.arn = "<task role ARN>") }`
	cisPattern = `{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}`
)

func TestPublishedPatternsVerbatim(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"app-kms-errors", labPattern},
		{"kms-key-disable-or-delete", cisPattern},
	} {
		r, _ := Lookup(tc.id)
		if got := r.FilterPattern(Params{}); got != tc.want {
			t.Errorf("%s pattern\n got %s\nwant %s", tc.id, got, tc.want)
		}
	}
	r, _ := Lookup("app-kms-errors")
	want := strings.Replace(labPattern, RoleARNPlaceholder, labTaskRole, 1)
	if got := r.FilterPattern(labParams); got != want {
		t.Errorf("with role\n got %s\nwant %s", got, want)
	}
}

// TestGoldenPatterns pins every rendered artifact; `go test -update` rewrites the files.
func TestGoldenPatterns(t *testing.T) {
	keyed := Params{TaskRoleARN: labTaskRole, KeyARNs: []string{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}
	for _, r := range Default() {
		var b strings.Builder
		if p := r.FilterPattern(Params{}); p != "" {
			b.WriteString("filter pattern:\n" + p + "\n")
			b.WriteString("filter pattern with role:\n" + r.FilterPattern(labParams) + "\n")
		}
		if p, ok := r.EventPattern(Params{}); ok {
			b.WriteString("event pattern:\n" + p + "\n")
			p, _ = r.EventPattern(keyed)
			b.WriteString("event pattern with keys:\n" + p + "\n")
		}
		if r.Source == Metrics {
			writeMetricAlarm(t, &b, r)
		}
		if r.join != nil {
			candidates := Rule{when: r.when, Source: TrailLogs, style: r.style}
			b.WriteString("replay only; the records it joins, as a pattern (not deployed):\n" + candidates.FilterPattern(labParams) + "\n")
			b.WriteString("each without an app line {\"event\":\"" + r.join.event + "\"} whose kms_request_id is its requestID\n")
		}
		checkGolden(t, filepath.Join("testdata", r.ID+".golden"), b.String())
	}
	// An adaptive rule with its anomaly band: the band's queries replace the threshold.
	for _, id := range []string{"app-decrypt-volume", "app-key-decrypt-rate"} {
		r, _ := Lookup(id)
		f := r.Firing
		f.AnomalyBand = 2
		var b strings.Builder
		writeMetricAlarm(t, &b, r.WithFiring(f))
		checkGolden(t, filepath.Join("testdata", id+".anomaly.golden"), b.String())
	}
}

// writeMetricAlarm renders a rule's alarm, its Metrics array with and without the app key, and
// the metric filters it depends on, as golden text.
func writeMetricAlarm(t *testing.T, b *strings.Builder, r Rule) {
	t.Helper()
	indented := func(v any) string {
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	b.WriteString("alarm:\n" + indented(r.Alarm(Params{})))
	for _, p := range []Params{{}, appKeyParams} {
		b.WriteString("metric queries with app key " + strconv.Quote(p.AppKeyARN) + ":\n" + indented(r.MetricQueries(p)))
	}
	for _, pm := range r.PublishedMetrics(labParams) {
		fmt.Fprintf(b, "published %s from %s: %s -> %s/%s value %s\n", pm.Name, pm.Source, pm.Pattern, pm.Transform.Namespace, pm.Transform.Name, pm.Transform.Value)
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDefaultRulesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Default() {
		if seen[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Description == "" || r.Runbook == "" || r.Severity == "" {
			t.Errorf("%s: missing title, description, runbook or severity", r.ID)
		}
		if err := r.Firing.Validate(); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
		logBased := r.Source == TrailLogs || r.Source == AppLogs
		if logBased != (r.MetricName != "") {
			t.Errorf("%s: source %s with metric name %q", r.ID, r.Source, r.MetricName)
		}
		if (logBased || r.Source == Metrics) && r.Firing.Immediate {
			t.Errorf("%s: an alarmed rule cannot fire at once", r.ID)
		}
		if (r.Source == Metrics) != (r.metrics != nil) {
			t.Errorf("%s: source %s, metric inputs %v", r.ID, r.Source, r.metrics)
		}
		if r.Source == Offline && (!r.Firing.Immediate || r.join == nil || r.Tunable()) {
			t.Errorf("%s: an Offline rule is replayed only, per record: firing %v, join %v", r.ID, r.Firing, r.join)
		}
		if r.Source == Metrics {
			if err := ValidateMetricQueries(r.MetricQueries(appKeyParams), r.Alarm(appKeyParams).ThresholdMetricID); err != nil {
				t.Errorf("%s: %v", r.ID, err)
			}
		}
	}
	if len(seen) != 8 {
		t.Errorf("want 8 rules, have %d", len(seen))
	}
}

func TestFiringValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Firing
		ok   bool
	}{
		{"one minute, one period, threshold 1", Firing{Period: time.Minute, EvaluationPeriods: 1, Threshold: 1}, true},
		{"immediate needs nothing else", Firing{Immediate: true}, true},
		{"24h window exactly", Firing{Period: time.Hour, EvaluationPeriods: 24, Threshold: 1}, true},
		{"30 seconds is below a metric filter's resolution", Firing{Period: 30 * time.Second, EvaluationPeriods: 1, Threshold: 1}, false},
		{"90 seconds is not whole minutes", Firing{Period: 90 * time.Second, EvaluationPeriods: 1, Threshold: 1}, false},
		{"zero evaluation periods", Firing{Period: time.Minute, Threshold: 1}, false},
		{"window over 24h", Firing{Period: time.Hour, EvaluationPeriods: 25, Threshold: 1}, false},
		{"threshold below 1", Firing{Period: time.Minute, EvaluationPeriods: 1, Threshold: 0.5}, false},
		{"1 of 21", Firing{Period: time.Minute, EvaluationPeriods: 21, DatapointsToAlarm: 1, Threshold: 2}, true},
		{"M equal to N", Firing{Period: time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 2}, true},
		{"more datapoints to alarm than evaluation periods", Firing{Period: time.Minute, EvaluationPeriods: 2, DatapointsToAlarm: 3, Threshold: 1}, false},
		{"negative datapoints to alarm", Firing{Period: time.Minute, EvaluationPeriods: 2, DatapointsToAlarm: -1, Threshold: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestWithFiringKeepsEventBridgeImmediate(t *testing.T) {
	r, _ := Lookup("kms-key-policy-change")
	if got := r.WithFiring(Firing{Period: time.Minute, EvaluationPeriods: 1, Threshold: 3}).Firing; !got.Immediate {
		t.Errorf("EventBridge rule became %v", got)
	}
	r, _ = Lookup("app-decrypt-volume")
	f := Firing{Period: 10 * time.Minute, EvaluationPeriods: 2, DatapointsToAlarm: 2, Threshold: 50}
	if got := r.WithFiring(f).Alarm(Params{}); got.PeriodSeconds != 600 || got.EvaluationPeriods != 2 || got.DatapointsToAlarm != 2 || got.Threshold != 50 {
		t.Errorf("alarm after override = %+v", got)
	}
}

// Stack config sets period, periods and threshold only: the rule's own M stays, so the override
// keeps the rule's tolerance for late data rather than asking all N periods to breach.
func TestWithFiringKeepsTheRulesDatapointsToAlarm(t *testing.T) {
	r, _ := Lookup("app-kms-errors")
	for _, tc := range []struct {
		f    Firing
		want int
	}{
		{Firing{Period: time.Minute, EvaluationPeriods: 21, Threshold: 4}, 1},
		{Firing{Period: 5 * time.Minute, EvaluationPeriods: 3, Threshold: 4}, 1},
		{Firing{Period: time.Minute, EvaluationPeriods: 10, DatapointsToAlarm: 3, Threshold: 4}, 3},
	} {
		got := r.WithFiring(tc.f).Firing
		if got.Datapoints() != tc.want || got.EvaluationPeriods != tc.f.EvaluationPeriods || got.Validate() != nil {
			t.Errorf("WithFiring(%+v) = %+v, want %d of %d", tc.f, got, tc.want, tc.f.EvaluationPeriods)
		}
	}
}

func TestAlarmAndMetric(t *testing.T) {
	r, _ := Lookup("app-kms-errors")
	a := r.Alarm(labParams)
	if a.MetricName != "AppKmsErrors" || a.Namespace != MetricNamespace || a.Statistic != "Sum" ||
		a.ComparisonOperator != "GreaterThanOrEqualToThreshold" || a.TreatMissingData != "notBreaching" ||
		a.PeriodSeconds != 60 || a.EvaluationPeriods != 21 || a.DatapointsToAlarm != 1 || a.Threshold != 2 {
		t.Errorf("alarm = %+v", a)
	}
	mt := r.MetricTransformation(labParams)
	if mt.Name != "AppKmsErrors" || mt.Namespace != MetricNamespace || mt.Value != "1" || mt.DefaultValue == nil || *mt.DefaultValue != 0 {
		t.Errorf("metric transformation = %+v", mt)
	}
	p, _ := Lookup("kms-key-policy-change")
	if (p.Alarm(labParams) != AlarmSpec{}) || p.FilterPattern(labParams) != "" {
		t.Errorf("EventBridge rule has alarm %+v or pattern %q", p.Alarm(labParams), p.FilterPattern(labParams))
	}
	if qs := r.MetricQueries(labParams); qs != nil {
		t.Errorf("a metric filter's alarm without a band reads no Metrics array: %+v", qs)
	}
}
