package rules

import (
	"strings"
	"testing"
	"time"
)

// Every alarm that reads a Metrics array keeps to what PutMetricAlarm accepts (metrics.go cites
// the limits): the Metrics rules as shipped and with an anomaly band, and each adaptive rule's band.
func TestMetricAlarmsKeepToPutMetricAlarmsLimits(t *testing.T) {
	checked := 0
	for _, r := range Default() {
		variants := []Rule{r}
		if r.Adaptive() {
			f := r.Firing
			f.AnomalyBand = 2.5
			variants = append(variants, r.WithFiring(f))
		}
		for _, v := range variants {
			qs := v.MetricQueries(appKeyParams)
			if qs == nil {
				continue
			}
			checked++
			a := v.Alarm(appKeyParams)
			if err := ValidateMetricQueries(qs, a.ThresholdMetricID); err != nil {
				t.Errorf("%s (%s): %v", v.ID, v.Firing, err)
			}
			if a.MetricName != "" || a.Namespace != "" || a.Statistic != "" {
				t.Errorf("%s: an alarm with a Metrics array cannot also name a metric: %+v", v.ID, a)
			}
			for _, q := range qs {
				if q.Metric != nil && q.Metric.PeriodSeconds != int(v.Firing.Period/time.Second) {
					t.Errorf("%s: query %s has period %d, the firing %s", v.ID, q.ID, q.Metric.PeriodSeconds, v.Firing.Period)
				}
			}
		}
	}
	if checked != 4 { // the two Metrics rules, and the bands of the two adaptive rules
		t.Errorf("%d alarms with a Metrics array checked, want 4", checked)
	}
}

func TestValidateMetricQueriesRefusesWhatCloudWatchRefuses(t *testing.T) {
	stat := func(id string) MetricQuery {
		return MetricQuery{ID: id, Metric: &MetricStat{Namespace: "AWS/KMS", MetricName: "SuccessfulRequest", PeriodSeconds: 60, Stat: "Sum"}}
	}
	expr := func(id, e string, ret bool) MetricQuery { return MetricQuery{ID: id, Expression: e, ReturnData: ret} }
	many := func(n int, f func(i int) MetricQuery) []MetricQuery {
		var out []MetricQuery
		for i := range n {
			out = append(out, f(i))
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		qs        []MetricQuery
		threshold string
		want      string // "" for valid
	}{
		{"a difference of two metrics", []MetricQuery{stat("kms"), stat("served"), expr("unserved", "kms - served", true)}, "", ""},
		{"an id with a capital first letter", []MetricQuery{stat("Kms"), expr("e1", "Kms * 1", true)}, "", `query id "Kms"`},
		{"an id with a hyphen", []MetricQuery{stat("k-1"), expr("e1", "k * 1", true)}, "", `query id "k-1"`},
		{"the same id twice", []MetricQuery{stat("m1"), stat("m1"), expr("e1", "m1 * 2", true)}, "", "used twice"},
		{"an expression naming an unknown id", []MetricQuery{stat("m1"), expr("e1", "m1 - m2", true)}, "", "names m2"},
		{"two results", []MetricQuery{stat("m1"), expr("e1", "m1 * 2", true), expr("e2", "m1 * 3", true)}, "", "2 queries return data: want exactly 1"},
		{"no result", []MetricQuery{stat("m1"), expr("e1", "m1 * 2", false)}, "", "0 queries return data"},
		{"a query with a metric and an expression", []MetricQuery{{ID: "m1", Expression: "1", Metric: stat("m1").Metric, ReturnData: true}}, "", "not both or neither"},
		{"a 30-second period on a standard metric", []MetricQuery{{ID: "m1", ReturnData: true, Metric: &MetricStat{Namespace: "n", MetricName: "m", PeriodSeconds: 30, Stat: "Sum"}}}, "", "period 30"},
		{"eleven metrics", append(many(11, func(i int) MetricQuery { return stat("m" + string(rune('a'+i))) }), expr("e1", "ma", true)), "", "at most 10"},
		{"21 queries", append(many(10, func(i int) MetricQuery { return stat("m" + string(rune('a'+i))) }),
			many(11, func(i int) MetricQuery { return expr("e"+string(rune('a'+i)), "ma", i == 0) })...), "", "at most 20"},
		{"an anomaly band returning data with its metric", []MetricQuery{{ID: "m1", ReturnData: true, Metric: stat("m1").Metric}, expr("band", "ANOMALY_DETECTION_BAND(m1, 2)", true)}, "band", ""},
		{"an anomaly band whose metric returns nothing", []MetricQuery{stat("m1"), expr("band", "ANOMALY_DETECTION_BAND(m1, 2)", true)}, "band", "1 queries return data: want exactly 2"},
		{"a band that returns nothing", []MetricQuery{{ID: "m1", ReturnData: true, Metric: stat("m1").Metric}, expr("band", "ANOMALY_DETECTION_BAND(m1, 2)", false)}, "band", "must be an ANOMALY_DETECTION_BAND expression that returns data"},
		{"a threshold metric that is no band", []MetricQuery{{ID: "m1", ReturnData: true, Metric: stat("m1").Metric}, expr("e1", "m1 * 2", true)}, "e1", "must be an ANOMALY_DETECTION_BAND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateMetricQueries(tc.qs, tc.threshold)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The app's count that app-decrypt-unserved subtracts comes from a metric filter the stack
// deploys on the app's log group, in the rules' namespace: not the EMF metric of the same count
// (kmswatch/app DecryptsServed), so that nothing counts twice, and stamped with each line's own
// time, so that a decrypt and its served line fall in the same minute.
func TestUnservedReadsTheAppsServedLinesThroughAMetricFilter(t *testing.T) {
	r, _ := Lookup("app-decrypt-unserved")
	pub := r.PublishedMetrics(appKeyParams)
	if len(pub) != 1 {
		t.Fatalf("published metrics %+v, want the served count", pub)
	}
	p := pub[0]
	if p.Source != AppLogs || p.Pattern != `{ ($.event = "decrypt_served") }` || p.Transform.Namespace != MetricNamespace ||
		p.Transform.Name != "AppDecryptsServed" || p.Transform.Value != "1" || p.Transform.DefaultValue == nil || *p.Transform.DefaultValue != 0 {
		t.Errorf("published %+v", p)
	}
	if p.Transform.Namespace == "kmswatch/app" {
		t.Error("the filter publishes into the EMF namespace: the served count would be counted twice")
	}
	var ids []string
	for _, q := range r.MetricQueries(appKeyParams) {
		ids = append(ids, q.ID)
		if q.Metric != nil && q.ID == "served" && (q.Metric.Namespace != p.Transform.Namespace || q.Metric.MetricName != p.Transform.Name) {
			t.Errorf("the expression reads %s/%s, the filter publishes %s/%s", q.Metric.Namespace, q.Metric.MetricName, p.Transform.Namespace, p.Transform.Name)
		}
	}
	if strings.Join(ids, ",") != "kms,served,unserved" || r.Expression() != "kms - served" {
		t.Errorf("queries %v, expression %q", ids, r.Expression())
	}
}

// Each Metrics rule's offline conditions are the CloudTrail records its AWS metric counts: a
// rule's inputs as rules match what the rule's cases say they count.
func TestInputRulesCountWhatTheirMetricCounts(t *testing.T) {
	r, _ := Lookup("app-decrypt-unserved")
	ins := r.InputRules()
	if len(ins) != 2 || ins[0].ID != "app-decrypt-unserved/kms" || ins[1].ID != "app-decrypt-unserved/served" {
		t.Fatalf("input rules %v", ins)
	}
	rate, _ := Lookup("app-key-decrypt-rate")
	for _, data := range mustSampleRecords(t, "ebs-attach-encrypted-volume.json") {
		rec := mustParse(t, data)
		if rate.Matches(rec, appKeyParams) != ins[0].Matches(rec, appKeyParams) {
			t.Errorf("app-key-decrypt-rate and the unserved rule's KMS input disagree on\n%s", data)
		}
	}
	if !rate.UsesAppKey() || !r.UsesAppKey() || r.UsesTaskRole() {
		t.Errorf("app key: rate %v, unserved %v; task role: unserved %v", rate.UsesAppKey(), r.UsesAppKey(), r.UsesTaskRole())
	}
}

func TestOnlyRulesAboutTheTaskRolesCredentialsContain(t *testing.T) {
	want := map[string]bool{"app-kms-errors": true, "app-decrypt-volume": true, "app-decrypt-unserved": true}
	for _, r := range Default() {
		if r.CanContain() != want[r.ID] {
			t.Errorf("%s: CanContain %v, want %v", r.ID, r.CanContain(), want[r.ID])
		}
	}
}

// A stack's namespace reaches everything that names the rules' own metrics, the filters and the
// alarms alike, the metric-math alarm's served input and an anomaly band's input included; AWS's
// metrics stay where AWS publishes them; without one, every rendering keeps MetricNamespace.
func TestTheStacksNamespaceIsWhereItsFiltersPublishAndItsAlarmsRead(t *testing.T) {
	const ns = "kmswatch/kmswatch-prod"
	stack := appKeyParams
	stack.MetricNamespace = ns
	if got := (Params{}).Namespace(); got != "kmswatch" {
		t.Errorf("default namespace %q, want kmswatch", got)
	}
	if got := StackMetricNamespace("kmswatch-prod"); got != ns {
		t.Errorf("StackMetricNamespace = %q, want %q", got, ns)
	}
	adaptive := map[string]Firing{}
	for _, r := range Default() {
		if r.Adaptive() {
			f := r.Firing
			f.AnomalyBand = 2
			adaptive[r.ID] = f
		}
	}
	var rs []Rule
	for _, r := range Default() {
		rs = append(rs, r)
		if f, ok := adaptive[r.ID]; ok {
			rs = append(rs, r.WithFiring(f))
		}
	}
	for _, r := range rs {
		for _, tc := range []struct {
			p    Params
			want string
		}{{stack, ns}, {appKeyParams, MetricNamespace}} {
			if r.MetricName != "" {
				if got := r.MetricTransformation(tc.p).Namespace; got != tc.want {
					t.Errorf("%s: filter publishes into %q, want %q", r.ID, got, tc.want)
				}
			}
			if a := r.Alarm(tc.p); a.Namespace != "" && a.Namespace != tc.want {
				t.Errorf("%s: alarm reads %q, want %q", r.ID, a.Namespace, tc.want)
			}
			written := map[string]bool{}
			if r.MetricName != "" {
				written[r.MetricName] = true
			}
			for _, pm := range r.PublishedMetrics(tc.p) {
				if pm.Transform.Namespace != tc.want {
					t.Errorf("%s: publishes %s into %q, want %q", r.ID, pm.Name, pm.Transform.Namespace, tc.want)
				}
				written[pm.Transform.Name] = true
			}
			for _, q := range r.MetricQueries(tc.p) {
				m := q.Metric
				switch {
				case m == nil:
				case m.Namespace == kmsNamespace:
				case m.Namespace != tc.want || !written[m.MetricName]:
					t.Errorf("%s (%s): query %s reads %s %s, not a metric the rule's filters write into %q", r.ID, r.Firing, q.ID, m.Namespace, m.MetricName, tc.want)
				}
			}
		}
	}
	r, _ := Lookup("app-decrypt-unserved")
	var served *MetricStat
	for _, q := range r.MetricQueries(stack) {
		if q.ID == "served" {
			served = q.Metric
		}
	}
	if served == nil || served.Namespace != ns {
		t.Errorf("the unserved alarm's served input %+v, want it in %s", served, ns)
	}
}

func TestValidateMetricNamespace(t *testing.T) {
	for _, ok := range []string{"kmswatch", "kmswatch/kmswatch-dev", StackMetricNamespace("kmswatch-security-t-1a2b3c"), strings.Repeat("n", 255)} {
		if err := ValidateMetricNamespace(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("n", 256), "AWS/KMS", "kmswatch:dev", "kms*", "kms$", "kms\tdev", "kmswätch"} {
		if err := ValidateMetricNamespace(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
