package rules

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules/insightsql"
)

// A stack as infra gives it: eu-west-1, the lab's role, two keys with their aliases.
const (
	dashAppKey   = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	dashAuditKey = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)

func dashStack() DashboardStack {
	alarms := map[string]string{}
	for _, r := range Default() {
		if !r.Firing.Immediate {
			alarms[r.ID] = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:" + r.AlarmName("kmswatch-dev")
		}
	}
	return DashboardStack{
		Title:  "kmswatch-dev",
		Region: "eu-west-1",
		Params: Params{TaskRoleARN: labTaskRole, KeyARNs: []string{dashAppKey, dashAuditKey},
			KeyAliases: []string{"alias/kmswatch-dev-app", "alias/kmswatch-dev-audit"}, MetricNamespace: "kmswatch/kmswatch-dev"},
		AlarmARNs:     alarms,
		TrailLogGroup: "/kmswatch-dev/cloudtrail",
		AppLogGroup:   "/kmswatch-dev/app",
		AppKey:        DashboardKey{Label: "app", ARN: dashAppKey, Alias: "alias/kmswatch-dev-app"},
		OtherKeys:     []DashboardKey{{Label: "audit", ARN: dashAuditKey, Alias: "alias/kmswatch-dev-audit"}},
		AppMetrics: AppMetrics{Namespace: "kmswatch/app", Dimension: "Service",
			Volume: []string{"EncryptsStored", "DecryptsServed"}, Failures: []string{"DecryptsFailed_kms_refused"}},
	}
}

// parsedWidget is a widget as a reader of the body sees it.
type parsedWidget struct {
	Type                string
	X, Y, Width, Height int
	Properties          struct {
		Title, Region, Query string
		Markdown             string
		Metrics              [][]any
		Alarms               []string
		Annotations          struct {
			Alarms     []string
			Horizontal []struct {
				Label string
				Value float64
			}
		}
	}
}

func mustDashboard(t *testing.T, rs []Rule, s DashboardStack) []parsedWidget {
	t.Helper()
	body, err := Dashboard(rs, s)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct{ Widgets []parsedWidget }
	if err := json.Unmarshal([]byte(body), &parsed); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return parsed.Widgets
}

// TestGoldenDashboard pins the body; `go test -update` rewrites it.
func TestGoldenDashboard(t *testing.T) {
	body, err := Dashboard(Default(), dashStack())
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "dashboard", "kmswatch-dev.json"), body)
}

func TestDashboardDrawsEveryRule(t *testing.T) {
	s := dashStack()
	ws := mustDashboard(t, Default(), s)
	for _, r := range Default() {
		var metric, alarm, events, note bool
		a := r.Alarm(s.Params)
		for _, w := range ws {
			p := w.Properties
			if w.Type == "text" && strings.Contains(p.Markdown, "## "+r.ID+":") {
				note = true
			}
			if !strings.HasPrefix(p.Title, r.ID+":") {
				continue
			}
			switch {
			case w.Type == "metric" && slices.Equal(p.Annotations.Alarms, []string{s.AlarmARNs[r.ID]}):
				alarm = len(p.Metrics) == 0 // the body structure allows no metrics beside an alarm
			case w.Type == "metric" && r.MetricQueries(s.Params) != nil:
				// What the alarm reads, query for query, and its threshold unless a band is the threshold.
				metric = slices.Equal(queryIDs(p.Metrics), metricQueryIDs(r.MetricQueries(s.Params))) &&
					(a.ThresholdMetricID != "" || len(p.Annotations.Horizontal) == 1 && p.Annotations.Horizontal[0].Value == a.Threshold)
			case w.Type == "metric" && len(p.Metrics) == 1 && p.Metrics[0][1] == r.MetricName:
				metric = p.Metrics[0][0] == a.Namespace && len(p.Annotations.Horizontal) == 1 && p.Annotations.Horizontal[0].Value == a.Threshold
			case w.Type == "log":
				events = strings.HasPrefix(p.Query, "SOURCE '"+s.TrailLogGroup+"' | ")
			}
		}
		alarmed := !r.Firing.Immediate
		wantEvents := (r.Firing.Immediate && r.Source != Offline) || r.notify
		if metric != alarmed || alarm != alarmed || events != wantEvents || note != (r.Source == Offline) {
			t.Errorf("%s: metric with threshold %v, alarm %v, events %v, replay-only note %v; want %v, %v, %v, %v",
				r.ID, metric, alarm, events, note, alarmed, alarmed, wantEvents, r.Source == Offline)
		}
	}
}

// queryIDs are the ids of a metrics array's entries (the object that ends each).
func queryIDs(metrics [][]any) []string {
	var ids []string
	for _, m := range metrics {
		if props, ok := m[len(m)-1].(map[string]any); ok {
			id, _ := props["id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

func metricQueryIDs(qs []MetricQuery) []string {
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.ID)
	}
	return ids
}

// A source added to the rule set without widgets here must fail, not leave the rule off: every
// Source value has a kind the dashboard draws, and what it does not draw is an error.
func TestDashboardRefusesAKindItDoesNotKnow(t *testing.T) {
	base := appKMSErrors()
	for src := Source(0); !strings.HasPrefix(src.String(), "Source("); src++ {
		drawn := false
		for _, f := range []Firing{{Immediate: true}, base.Firing} {
			r := base
			r.Source, r.Firing = src, f
			_, err := Dashboard([]Rule{r}, dashStack())
			switch {
			case err == nil:
				drawn = true
			case !strings.Contains(err.Error(), "no widgets for"):
				t.Errorf("source %s, %v: %v", src, f, err)
			}
		}
		if !drawn {
			t.Errorf("source %s: no firing of it is drawn on the dashboard: add its case to ruleRows", src)
		}
	}
	for _, tc := range []struct {
		src       Source
		immediate bool
	}{{TrailLogs, true}, {AppLogs, true}, {EventBridge, false}, {Source(99), false}} {
		r := base
		r.Source, r.Firing = tc.src, base.Firing
		if tc.immediate {
			r.Firing = Firing{Immediate: true}
		}
		if _, err := Dashboard([]Rule{r}, dashStack()); err == nil || !strings.Contains(err.Error(), "no widgets for") {
			t.Errorf("source %s immediate %v: error %v, want no widgets for that kind", tc.src, tc.immediate, err)
		}
	}
}

// The alarm spec drawn is these fields; a new one (a metric-math expression, an anomaly band)
// changes what the alarm compares, and the threshold line would lie until alarmRow draws it.
func TestDashboardDrawsEveryFieldOfTheAlarmSpec(t *testing.T) {
	var fields []string
	typ := reflect.TypeFor[AlarmSpec]()
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	drawn := []string{"MetricName", "Namespace", "Statistic", "PeriodSeconds", "EvaluationPeriods",
		"DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "ThresholdMetricID"}
	if !slices.Equal(fields, drawn) {
		t.Errorf("AlarmSpec has fields %v; the dashboard draws %v: teach alarmRow the new ones", fields, drawn)
	}
}

func TestDashboardRefusesWhatItCannotDraw(t *testing.T) {
	noARN := dashStack()
	delete(noARN.AlarmARNs, "app-kms-errors")
	badGroup := dashStack()
	badGroup.TrailLogGroup = "it's"
	noRegion := dashStack()
	noRegion.Region = ""
	for _, tc := range []struct {
		name string
		rs   []Rule
		s    DashboardStack
		want string
	}{
		{"an alarm without its ARN", Default(), noARN, "no alarm ARN"},
		{"a log group a SOURCE clause cannot name", Default(), badGroup, "SOURCE clause"},
		{"no region", Default(), noRegion, "region"},
		{"too many alarms for one status widget", slices.Repeat(Default()[:1], 101), dashStack(), "at most 100"},
	} {
		if _, err := Dashboard(tc.rs, tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one that says %q", tc.name, err, tc.want)
		}
	}
}

func TestDashboardQueriesParseAndFitTheGrid(t *testing.T) {
	s := dashStack()
	ws := mustDashboard(t, Default(), s)
	logs := 0
	for i, w := range ws {
		if w.X < 0 || w.Width < 1 || w.X+w.Width > 24 || w.Height < 1 || w.Height > 1000 {
			t.Errorf("widget %d %q at x=%d width %d height %d is off the 24-column grid", i, w.Properties.Title, w.X, w.Width, w.Height)
		}
		for j, o := range ws[:i] {
			if w.X < o.X+o.Width && o.X < w.X+w.Width && w.Y < o.Y+o.Height && o.Y < w.Y+w.Height {
				t.Errorf("widgets %d and %d overlap", j, i)
			}
		}
		if w.Type != "log" {
			continue
		}
		logs++
		q, err := insightsql.Parse(w.Properties.Query)
		if err != nil {
			t.Errorf("%q: %v\n%s", w.Properties.Title, err, w.Properties.Query)
		} else if len(q.Sources) != 1 || (q.Sources[0] != s.TrailLogGroup && q.Sources[0] != s.AppLogGroup) {
			t.Errorf("%q reads %v, not the stack's log groups", w.Properties.Title, q.Sources)
		}
	}
	if logs < 4 { // the events of two rules, and the three tables over the trail
		t.Errorf("%d log widgets", logs)
	}
}

// With an anomaly band as the threshold, the band is drawn and no fixed line pretends to be it.
func TestDashboardDrawsTheBandOfAnAdaptiveAlarm(t *testing.T) {
	rs, err := ApplySettings(Default(), func(k string) (string, bool) {
		if k == SettingName("app-decrypt-volume", SettingAnomalyBand) {
			return "2", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range mustDashboard(t, rs, dashStack()) {
		p := w.Properties
		if w.Type != "metric" || !strings.HasPrefix(p.Title, "app-decrypt-volume:") || len(p.Metrics) == 0 {
			continue
		}
		if len(p.Annotations.Horizontal) != 0 {
			t.Errorf("a fixed threshold line beside the band: %+v", p.Annotations.Horizontal)
		}
		if ids := queryIDs(p.Metrics); !slices.Contains(ids, "band") {
			t.Errorf("the band is not drawn: ids %v", ids)
		}
		return
	}
	t.Fatal("no metric widget for app-decrypt-volume")
}
