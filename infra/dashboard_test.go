package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/app/emf"
	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/kmswatch/kmswatch/infra/rules/insightsql"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// awsPublished are the metrics AWS publishes that the dashboard may name, each with the page
// that documents its namespace, name and dimensions. A metric outside this list, the stack's
// metric filters and the app's EMF metrics is a metric nobody publishes: an empty graph.
var awsPublished = map[string]struct {
	dims []string
	doc  string
}{
	"AWS/Usage CallCount": {[]string{"Class", "Resource", "Service", "Type"},
		"https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Usage-Metrics.html (KMS's Service value: AWS-API-Usage-Metrics.html)"},
	"AWS/KMS SuccessfulRequest": {[]string{"KeyArn", "Operation"},
		"https://aws.amazon.com/blogs/security/aws-kms-cloudwatch-metrics-help-you-better-track-and-understand-how-your-kms-keys-are-being-used/"},
}

// deployedDashboard is the body the stack deploys, as CloudWatch reads it.
type deployedDashboard struct {
	Widgets []struct {
		Type                string
		X, Y, Width, Height int
		Properties          struct {
			Title, Region, Query string
			Metrics              [][]any
			Alarms               []string
			Annotations          struct{ Alarms []string }
		}
	}
}

func stackDashboard(t *testing.T, run *stackRun) (*recorded, deployedDashboard) {
	t.Helper()
	d := run.one("aws:cloudwatch/dashboard:Dashboard")
	var body deployedDashboard
	if err := json.Unmarshal([]byte(d.str("dashboardBody")), &body); err != nil {
		t.Fatalf("dashboard body is not JSON: %v\n%s", err, d.str("dashboardBody"))
	}
	if len(body.Widgets) == 0 {
		t.Fatal("dashboard without widgets")
	}
	return d, body
}

func TestDashboardIsDeployedWithItsURL(t *testing.T) {
	run := mustRun(t, baseConfig())
	d, _ := stackDashboard(t, run)
	if d.Parent != run.one("kmswatch:dashboard:Dashboard").URN {
		t.Error("the dashboard is not a child of its component")
	}
	name := d.str("dashboardName")
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`).MatchString(name) || name != "kmswatch-dev" {
		t.Errorf("dashboard name %q: want kmswatch-dev, 1 to 255 of A-Z a-z 0-9 - _ (PutDashboard)", name)
	}
	want := "https://console.aws.amazon.com/cloudwatch/home?region=" + mockRegion + "#dashboards:name=kmswatch-dev"
	if got := run.outputs["dashboardUrl"]; got != want {
		t.Errorf("output dashboardUrl = %v, want %s", got, want)
	}
}

// A rule the dashboard cannot draw stops the program when it is declared, not later in an apply.
func TestDashboardRefusesARuleItCannotDrawAtOnce(t *testing.T) {
	unknown := rules.Rule{ID: "kms-new-kind", Title: "a kind the dashboard has no widgets for", Source: rules.Source(99)}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := newDashboard(ctx, "dashboard", DashboardArgs{
			Env: awsEnv{Account: mockAccount, Region: mockRegion, Partition: mockPartition}, Names: newStackNames("kmswatch", "dev"),
			Rules:       append(rules.Default(), unknown),
			TaskRoleARN: pulumi.String("arn:aws:iam::" + mockAccount + ":role/task"),
			AppKeyARN:   pulumi.String(regional("kms", "key/"+mockUUID("app"))), AuditKeyARN: pulumi.String(regional("kms", "key/"+mockUUID("audit"))),
			TrailLogGroupName: pulumi.String("/kmswatch-dev/cloudtrail"), AppLogGroupName: pulumi.String("/kmswatch-dev/app"),
		})
		return err
	}, pulumi.WithMocks("kmswatch", "dev", &awsMocks{stack: "dev", calls: map[string]resource.PropertyMap{}}))
	if err == nil || !strings.Contains(err.Error(), "kms-new-kind") || !strings.Contains(err.Error(), "no widgets for") {
		t.Fatalf("error %v, want the rule named as one the dashboard cannot draw", err)
	}
}

// TestDashboardNamesOnlyPublishedMetrics: every metric, explicit or found by a SEARCH, is one of
// the stack's metric filters, the app's EMF metrics or AWS's list above, with its dimensions.
func TestDashboardNamesOnlyPublishedMetrics(t *testing.T) {
	run := mustRun(t, baseConfig())
	_, body := stackDashboard(t, run)
	published := map[string][]string{} // "namespace name" -> dimensions
	for _, f := range run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter") {
		published[f.str("metricTransformation", "namespace")+" "+f.str("metricTransformation", "name")] = nil
	}
	for _, m := range emf.MetricNames() {
		published[emf.Namespace+" "+m] = []string{emf.DimensionName}
	}
	for k, v := range awsPublished {
		published[k] = v.dims
	}
	keys := []string{run.named("aws:kms/key:Key", "keys-app").outStr("arn"), run.named("aws:kms/key:Key", "keys-audit").outStr("arn")}
	seen := map[string]bool{}
	for _, w := range body.Widgets {
		ids := map[string]bool{}
		for _, m := range w.Properties.Metrics {
			if props, ok := m[len(m)-1].(map[string]any); ok {
				if id, _ := props["id"].(string); id != "" {
					ids[id] = true
				}
			}
		}
		for _, m := range w.Properties.Metrics {
			for _, ref := range metricRefs(t, w.Properties.Title, m, ids) {
				dims, ok := published[ref.metric]
				switch {
				case !ok:
					t.Errorf("%q graphs %s, which no filter of the stack, the app or AWS publishes", w.Properties.Title, ref.metric)
				case (ref.search || len(ref.dims) > 0) && !slices.Equal(ref.dims, dims):
					t.Errorf("%q graphs %s with dimensions %v; it is published with %v", w.Properties.Title, ref.metric, ref.dims, dims)
				}
				// The app's metrics carry the task definition's METRICS_SERVICE, the stack's prefix.
				if v, ok := ref.equal["Service"]; ok && strings.HasPrefix(ref.metric, emf.Namespace+" ") && v != "kmswatch-dev" {
					t.Errorf("%q graphs the app's metrics of Service %q, not this stack's kmswatch-dev", w.Properties.Title, v)
				}
				if v, ok := ref.equal["KeyArn"]; ok && !slices.Contains(keys, v) {
					t.Errorf("%q searches key %s, not one of the stack's %v", w.Properties.Title, v, keys)
				}
				seen[ref.metric] = true
			}
		}
	}
	for _, f := range run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter") {
		if m := f.str("metricTransformation", "namespace") + " " + f.str("metricTransformation", "name"); !seen[m] {
			t.Errorf("the filter metric %s is not on the dashboard", m)
		}
	}
	for m := range awsPublished {
		if !seen[m] {
			t.Errorf("%s is listed but not graphed", m)
		}
	}
}

type metricRef struct {
	metric string // "namespace name"
	search bool
	dims   []string          // a search's schema
	equal  map[string]string // a search's exact dimension values
}

var (
	searchCall = regexp.MustCompile(`SEARCH\('\{([^}]*)\} ([^']*)', 'Sum', (\d+)\)`)
	searchTerm = regexp.MustCompile(`^(\w+)="((?:[^"\\]|\\.)*)"$`)
)

// metricRefs reads one entry of a metrics array: [namespace, name, dim, value, ..., {props}], or
// [{expression}] where the expression is SEARCH(...) or SUM(SEARCH(...)). Any other expression
// is one this test cannot check, and fails it.
func metricRefs(t *testing.T, title string, entry []any, ids map[string]bool) []metricRef {
	t.Helper()
	if ns, ok := entry[0].(string); ok {
		name, _ := entry[1].(string)
		ref := metricRef{metric: ns + " " + name, equal: map[string]string{}}
		for i := 2; i+1 < len(entry); i += 2 { // [namespace, name, dim, value, ..., {props}]
			k, _ := entry[i].(string)
			v, _ := entry[i+1].(string)
			ref.dims, ref.equal[k] = append(ref.dims, k), v
		}
		return []metricRef{ref}
	}
	props, _ := entry[0].(map[string]any)
	expr, _ := props["expression"].(string)
	if expr == "" {
		t.Errorf("%q: a metrics entry that is neither a metric nor an expression: %v", title, entry)
		return nil
	}
	// Metric math over the widget's own entries (an alarm's "kms - served", its anomaly band)
	// names no metric of its own: every word is an entry's id or a function CloudWatch documents.
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
	if !strings.Contains(expr, "SEARCH(") {
		for _, word := range regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`).FindAllString(expr, -1) {
			if !ids[word] && word != "ANOMALY_DETECTION_BAND" {
				t.Errorf("%q: expression %q names %q, neither an entry of the widget nor a function", title, expr, word)
			}
		}
		return nil
	}
	if rest := searchCall.ReplaceAllString(expr, ""); rest != "" && rest != "SUM()" {
		t.Errorf("%q: expression %q is not a SEARCH or a SUM of one", title, expr)
	}
	var refs []metricRef
	for _, m := range searchCall.FindAllStringSubmatch(expr, -1) {
		schema := strings.Split(m[1], ",")
		ref := metricRef{search: true, dims: schema[1:], equal: map[string]string{}}
		for _, term := range strings.Split(m[2], " ") {
			kv := searchTerm.FindStringSubmatch(term)
			if kv == nil {
				t.Errorf("%q: search term %q is not Name=\"value\"", title, term)
				continue
			}
			if kv[1] == "MetricName" {
				ref.metric = schema[0] + " " + kv[2]
			} else if !slices.Contains(ref.dims, kv[1]) {
				t.Errorf("%q: search on %s, which is not in its schema %v", title, kv[1], ref.dims)
			} else {
				ref.equal[kv[1]] = kv[2]
			}
		}
		if len(expr) > 1024 {
			t.Errorf("%q: search of %d characters (CloudWatch takes 1024)", title, len(expr))
		}
		refs = append(refs, ref)
	}
	return refs
}

// TestDashboardReadsTheStacksRegionAlarmsAndLogs: every widget reads the stack's Region, every
// alarm it shows is one of the stack's (and every alarm is shown), every query parses and reads
// the stack's log groups, and the widgets tile the 24 columns within CloudWatch's limits.
func TestDashboardReadsTheStacksRegionAlarmsAndLogs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]string
		trail    string
	}{
		{"own trail", baseConfig(), "/kmswatch-dev/cloudtrail"},
		{"brought trail", withSettings(map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "org-trail"}), "/org/trail"},
	} {
		run := mustRun(t, tc.settings)
		_, body := stackDashboard(t, run)
		var alarms []string
		for _, a := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
			alarms = append(alarms, a.outStr("arn"))
		}
		groups := []string{tc.trail, run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs").str("name")}
		var status, annotated []string
		metrics := 0
		for i, w := range body.Widgets {
			p := w.Properties
			if w.Type != "text" && w.Type != "alarm" && p.Region != mockRegion {
				t.Errorf("%s: %q reads Region %q, not the stack's %s", tc.name, p.Title, p.Region, mockRegion)
			}
			if w.X < 0 || w.X > 23 || w.Width < 1 || w.X+w.Width > 24 || w.Y < 0 || w.Height < 1 || w.Height > 1000 {
				t.Errorf("%s: %q at x=%d y=%d %dx%d is off the 24-column grid", tc.name, p.Title, w.X, w.Y, w.Width, w.Height)
			}
			for _, o := range body.Widgets[:i] {
				if w.X < o.X+o.Width && o.X < w.X+w.Width && w.Y < o.Y+o.Height && o.Y < w.Y+w.Height {
					t.Errorf("%s: %q overlaps %q", tc.name, p.Title, o.Properties.Title)
				}
			}
			if len(p.Metrics) > rules.MaxWidgetMetrics {
				t.Errorf("%s: %q has %d metrics", tc.name, p.Title, len(p.Metrics))
			}
			metrics += len(p.Metrics)
			status = append(status, p.Alarms...)
			annotated = append(annotated, p.Annotations.Alarms...)
			for _, arn := range append(slices.Clone(p.Alarms), p.Annotations.Alarms...) {
				if !slices.Contains(alarms, arn) {
					t.Errorf("%s: %q shows alarm %s, which the stack does not deploy", tc.name, p.Title, arn)
				}
			}
			if w.Type == "log" {
				q, err := insightsql.Parse(p.Query)
				switch {
				case err != nil:
					t.Errorf("%s: %q: %v\n%s", tc.name, p.Title, err, p.Query)
				case len(q.Sources) != 1 || !slices.Contains(groups, q.Sources[0]):
					t.Errorf("%s: %q reads %v, not the stack's log groups %v", tc.name, p.Title, q.Sources, groups)
				}
			}
		}
		slices.Sort(alarms)
		slices.Sort(status)
		slices.Sort(annotated)
		if len(alarms) == 0 || !slices.Equal(status, alarms) || !slices.Equal(annotated, alarms) {
			t.Errorf("%s: alarms %v; in the status widget %v; graphed %v", tc.name, alarms, status, annotated)
		}
		if len(body.Widgets) > rules.MaxDashboardWidgets || metrics > rules.MaxDashboardMetrics {
			t.Errorf("%s: %d widgets, %d metrics: past CloudWatch's limits", tc.name, len(body.Widgets), metrics)
		}
	}
}

func TestDashboardURLIsTheConsoleOfThePartition(t *testing.T) {
	for _, tc := range []struct{ partition, region, want string }{
		{"aws", "eu-west-1", "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=kmswatch-dev"},
		{"aws-cn", "cn-north-1", "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#dashboards:name=kmswatch-dev"},
		{"aws-us-gov", "us-gov-west-1", "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#dashboards:name=kmswatch-dev"},
	} {
		got, err := dashboardURL(awsEnv{Partition: tc.partition, Region: tc.region, Account: mockAccount}, "kmswatch-dev")
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.partition, got, err, tc.want)
		}
	}
	if _, err := dashboardURL(awsEnv{Partition: "aws-iso", Region: "us-iso-east-1"}, "kmswatch-dev"); err == nil {
		t.Error("a partition without a known console gave a URL")
	}
}
