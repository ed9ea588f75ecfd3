package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The CloudWatch dashboard of the stack, rendered from the rule set: the body is a function of
// the rules and of a few stack values, and the stack only deploys it. Its structure follows
// "Dashboard Body Structure and Syntax": widgets of type metric, log, alarm and text on a grid of
// 24 columns, each with x, y, width and height, and the region in every metric and log widget.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html

// DashboardStack holds the stack's values the dashboard names.
type DashboardStack struct {
	Title         string            // shown in the header, e.g. "kmswatch-dev"
	Region        string            // every widget reads this Region
	Params        Params            // as the deployed rules compare with: task role, keys, aliases
	AlarmARNs     map[string]string // rule id -> its alarm's ARN, for every rule with an alarm
	TrailLogGroup string
	AppLogGroup   string
	AppKey        DashboardKey   // the key the app encrypts with
	OtherKeys     []DashboardKey // the stack's other keys (the audit key)
	AppMetrics    AppMetrics
}

// DashboardKey is a KMS key with the name the dashboard shows for it.
type DashboardKey struct {
	Label, ARN, Alias string // Alias: its alias name, "alias/..."; may be empty
}

// AppMetrics are the app's own metrics (EMF lines in its log group).
type AppMetrics struct {
	Namespace, Dimension string
	Service              string   // the dimension's value; "" graphs every value (a SEARCH)
	Volume               []string // counts of work done: encrypts stored, decrypts served
	Failures             []string // failed decrypts, one metric per reason
}

// CloudWatch's limits on what a dashboard holds, so that a rule set that outgrows them fails
// here and not in PutDashboard. Dashboards: "Up to 500 widgets per dashboard. Up to 500 metrics
// per dashboard widget. Up to 2500 metrics per dashboard, across all widgets"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html); an
// alarm status widget takes 1-100 ARNs (the body structure page). CloudWatch documents no limit
// on the body's size in bytes: PutDashboard's DashboardBody is a string without a length
// constraint (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html).
const (
	MaxDashboardWidgets       = 500
	MaxWidgetMetrics          = 500
	MaxDashboardMetrics       = 2500
	maxAlarmStatusARNs        = 100
	dashboardColumns          = 24
	MaxSearchExpressionLength = 1024 // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html
	MaxMetricExpressionLength = 2048 // MetricDataQuery.Expression: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html
	MaxInsightsQueryLength    = 10000
)

// Dashboard renders the dashboard body: a header and the alarms' states, one row per rule (an
// alarm's metric with its threshold and the alarm's graph; an immediate rule's events), then KMS
// calls by operation and by key, the trail through Logs Insights, and the app's own metrics. A
// rule of a kind it has no widgets for is an error, never a silent gap.
func Dashboard(rs []Rule, s DashboardStack) (string, error) {
	if s.Region == "" || s.TrailLogGroup == "" || s.AppKey.ARN == "" {
		return "", fmt.Errorf("dashboard: the stack's region, trail log group and app key are required")
	}
	g := &grid{}
	var alarms []string
	for _, r := range rs {
		if arn, ok := s.AlarmARNs[r.ID]; ok {
			alarms = append(alarms, arn)
		}
	}
	if len(alarms) > maxAlarmStatusARNs {
		return "", fmt.Errorf("dashboard: %d alarms; an alarm status widget shows at most %d", len(alarms), maxAlarmStatusARNs)
	}
	header := textWidget(fmt.Sprintf("# kmswatch: %s\nGenerated from the detection rules (infra/rules): an edit made here is lost "+
		"when the stack next writes the dashboard, which replaces the whole body. One row per rule (its metric with the alarm's threshold, "+
		"and the alarm's own graph; or its events), then KMS calls, the trail through Logs Insights, and the app's own metrics.", s.Title))
	if len(alarms) > 0 {
		g.row(4, sized{12, header}, sized{12, widget{Type: "alarm", Properties: alarmProps{
			Title: "The stack's alarms, ALARM first", Alarms: alarms, SortBy: "stateUpdatedTimestamp"}}})
	} else {
		g.row(4, sized{24, header})
	}
	for _, r := range rs {
		if err := ruleRows(g, r, s); err != nil {
			return "", err
		}
	}
	if err := kmsRows(g, s); err != nil {
		return "", err
	}
	if err := trailRows(g, s); err != nil {
		return "", err
	}
	if err := appRows(g, s); err != nil {
		return "", err
	}
	if err := g.check(); err != nil {
		return "", err
	}
	// The graphs obey their own periods (inherit): a threshold per 5 minutes is drawn over 5-minute
	// sums. Six hours show the alarms' windows (at most 21 periods) with what came before.
	var body strings.Builder
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // ">=" as written, for the reader of the console's JSON view
	enc.SetIndent("", "  ")
	if err := enc.Encode(dashboardBody{Start: "-PT6H", PeriodOverride: "inherit", Widgets: g.widgets}); err != nil {
		return "", fmt.Errorf("dashboard: %w", err)
	}
	return body.String(), nil
}

// ruleRows draws one rule. The kinds are the rule set's: a log rule with an alarm, an alarm on
// metrics CloudWatch already holds (AWS/KMS, the app's, metric math), an EventBridge rule that
// notifies at once, and a replay-only rule. A kind added to the rule set needs its case here.
func ruleRows(g *grid, r Rule, s DashboardStack) error {
	switch {
	case r.Source == Metrics && !r.Firing.Immediate:
		return alarmRow(g, r, s)
	case r.Source == Offline && r.Firing.Immediate:
		g.row(3, sized{24, textWidget(fmt.Sprintf("## %s: %s\nReplay only: no CloudWatch metric can relate a trail record to the app's log line "+
			"for the same request, so nothing is deployed for it. Judge it offline, on the trail and the app's log together: "+
			"`kmswatch replay --role-arn <taskRoleArn> <trail files> <app log export>`.", r.ID, oneLine(r.Title)))})
		return nil
	case (r.Source == TrailLogs || r.Source == AppLogs) && !r.Firing.Immediate:
		if err := alarmRow(g, r, s); err != nil {
			return err
		}
		if r.notify { // also reaches a person at once through EventBridge: show what it sees
			return eventsRow(g, r.WithFiring(Firing{Immediate: true}), s, "its events, as EventBridge notifies them at once")
		}
		return nil
	case r.Source == EventBridge && r.Firing.Immediate:
		return eventsRow(g, r, s, "its events: EventBridge notifies at once, per event")
	}
	return fmt.Errorf("dashboard: rule %s (source %s, immediate %v) is of a kind the dashboard has no widgets for: add its case to ruleRows",
		r.ID, r.Source, r.Firing.Immediate)
}

// alarmRow: the rule's metric with the threshold drawn as a horizontal annotation, beside the
// alarm's own graph. "If you specify an alarm annotation, you cannot also specify a metrics array
// in the same widget", nor horizontal annotations (the body structure page), hence two widgets:
// ours draws the metric and threshold the alarm spec says; the other names the alarm by its ARN
// and CloudWatch draws "the metric associated with an alarm, including the alarm line" (the CDK's
// AlarmWidget, which renders that annotation:
// https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_cloudwatch.AlarmWidget.html). The
// alarms' states are in the alarm status widget at the top.
func alarmRow(g *grid, r Rule, s DashboardStack) error {
	a := r.Alarm(s.Params)
	arn, ok := s.AlarmARNs[r.ID]
	queries := r.MetricQueries(s.Params)
	switch {
	case queries == nil && (a.MetricName == "" || a.Namespace == ""):
		return fmt.Errorf("dashboard: rule %s has no alarm metric", r.ID)
	case a.ThresholdMetricID == "" && (a.ComparisonOperator != "GreaterThanOrEqualToThreshold" || (queries == nil && a.Statistic != "Sum")):
		return fmt.Errorf("dashboard: rule %s alarms on %s of %s; the threshold line is drawn for >= on a Sum only", r.ID, a.ComparisonOperator, a.Statistic)
	case a.ThresholdMetricID != "" && a.ComparisonOperator != "GreaterThanUpperThreshold":
		return fmt.Errorf("dashboard: rule %s alarms on %s of a band; the band is drawn for above-the-band alarms only", r.ID, a.ComparisonOperator)
	case !ok || arn == "":
		return fmt.Errorf("dashboard: rule %s has an alarm but the stack gave no alarm ARN for it", r.ID)
	}
	period := shortDuration(time.Duration(a.PeriodSeconds) * time.Second)
	props := metricProps{
		Title: fmt.Sprintf("%s: %s", r.ID, oneLine(r.Title)), Region: s.Region, View: "timeSeries",
		Stat: a.Statistic, Period: a.PeriodSeconds,
		Metrics: [][]any{{a.Namespace, a.MetricName, renderProps{Label: "matching events per " + period, Stat: a.Statistic, Period: a.PeriodSeconds}}},
		YAxis:   &yAxis{Left: axis{Min: 0}},
	}
	if queries != nil {
		// What the alarm reads, as it reads it: its metrics and expressions with the same ids, the
		// inputs of an expression drawn faint, the band (ThresholdMetricID) as CloudWatch draws one.
		props.Metrics = dashboardQueries(queries, a.PeriodSeconds)
	}
	if a.ThresholdMetricID == "" {
		props.Annotations = &annotations{Horizontal: []horizontal{{
			Label: fmt.Sprintf("ALARM: >= %g per %s in %d of %d periods", a.Threshold, period, a.DatapointsToAlarm, a.EvaluationPeriods),
			Value: a.Threshold, Color: "#d62728", Fill: "above"}}}
	}
	metric := widget{Type: "metric", Properties: props}
	alarm := widget{Type: "metric", Properties: metricProps{
		Title: fmt.Sprintf("%s: the alarm's own graph", r.ID), Region: s.Region,
		Annotations: &annotations{Alarms: []string{arn}},
	}}
	g.row(6, sized{14, metric}, sized{10, alarm})
	return nil
}

// eventsRow lists a rule's matching events with its Logs Insights query as deployed (the
// conditions replay alone applies left out), on the log group the rule reads.
func eventsRow(g *grid, r Rule, s DashboardStack, what string) error {
	q, err := r.insightsQuery(s.Params, true)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	group := s.TrailLogGroup
	if r.InsightsOnAppLogs() {
		group = s.AppLogGroup
	}
	w, err := logWidget(fmt.Sprintf("%s: %s", r.ID, what), s.Region, group, q)
	if err != nil {
		return fmt.Errorf("dashboard: rule %s: %w", r.ID, err)
	}
	g.row(6, sized{24, w})
	return nil
}

// logWidget makes a log widget: the query with its log group as SOURCE 'name' and its comment
// lines left out (the widget shows its title instead).
func logWidget(title, region, group, query string) (widget, error) {
	if group == "" || strings.ContainsAny(group, `'\`) {
		return widget{}, fmt.Errorf("log group %q cannot be named in a SOURCE clause", group)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(query), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	full := "SOURCE '" + group + "' | " + strings.Join(lines, "\n")
	if len(full) > MaxInsightsQueryLength {
		return widget{}, fmt.Errorf("a Logs Insights query of %d characters (at most %d)", len(full), MaxInsightsQueryLength)
	}
	return widget{Type: "log", Properties: logProps{Title: title, Region: region, Query: full, View: "table"}}, nil
}

func textWidget(markdown string) widget {
	return widget{Type: "text", Properties: textProps{Markdown: markdown}}
}

// grid lays widgets out in rows, left to right, each row below the one before.
type grid struct {
	widgets []widget
	y       int
}

type sized struct {
	width int
	w     widget
}

func (g *grid) row(height int, ws ...sized) {
	x := 0
	for _, s := range ws {
		s.w.X, s.w.Y, s.w.Width, s.w.Height = x, g.y, s.width, height
		g.widgets = append(g.widgets, s.w)
		x += s.width
	}
	g.y += height
}

// check enforces CloudWatch's limits on the laid-out dashboard.
func (g *grid) check() error {
	if len(g.widgets) > MaxDashboardWidgets {
		return fmt.Errorf("dashboard: %d widgets (at most %d)", len(g.widgets), MaxDashboardWidgets)
	}
	total := 0
	for _, w := range g.widgets {
		if w.X+w.Width > dashboardColumns {
			return fmt.Errorf("dashboard: a widget at x=%d is %d wide, past the %d columns", w.X, w.Width, dashboardColumns)
		}
		if p, ok := w.Properties.(metricProps); ok {
			if len(p.Metrics) > MaxWidgetMetrics {
				return fmt.Errorf("dashboard: widget %q has %d metrics (at most %d)", p.Title, len(p.Metrics), MaxWidgetMetrics)
			}
			total += len(p.Metrics)
		}
	}
	if total > MaxDashboardMetrics {
		return fmt.Errorf("dashboard: %d metrics (at most %d)", total, MaxDashboardMetrics)
	}
	return nil
}

type dashboardBody struct {
	Start          string   `json:"start"`
	PeriodOverride string   `json:"periodOverride"`
	Widgets        []widget `json:"widgets"`
}

type widget struct {
	Type       string `json:"type"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Properties any    `json:"properties"`
}

type metricProps struct {
	Title       string       `json:"title"`
	Region      string       `json:"region"`
	View        string       `json:"view,omitempty"`
	Stacked     bool         `json:"stacked,omitempty"`
	Stat        string       `json:"stat,omitempty"`
	Period      int          `json:"period,omitempty"`
	Metrics     [][]any      `json:"metrics,omitempty"`
	Annotations *annotations `json:"annotations,omitempty"`
	YAxis       *yAxis       `json:"yAxis,omitempty"`
}

// renderProps is the object that may end a metric's array; expression is one alone in it.
type renderProps struct {
	Expression string `json:"expression,omitempty"`
	Label      string `json:"label,omitempty"`
	ID         string `json:"id,omitempty"`
	Stat       string `json:"stat,omitempty"`
	Period     int    `json:"period,omitempty"`
	Visible    *bool  `json:"visible,omitempty"` // false: retrieved for an expression, not drawn
}

type annotations struct {
	Alarms     []string     `json:"alarms,omitempty"`
	Horizontal []horizontal `json:"horizontal,omitempty"`
}

type horizontal struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Color string  `json:"color,omitempty"`
	Fill  string  `json:"fill,omitempty"`
}

type yAxis struct {
	Left axis `json:"left"`
}

type axis struct {
	Min float64 `json:"min"`
}

type logProps struct {
	Title  string `json:"title"`
	Region string `json:"region"`
	Query  string `json:"query"`
	View   string `json:"view"`
}

type alarmProps struct {
	Title  string   `json:"title"`
	Alarms []string `json:"alarms"`
	SortBy string   `json:"sortBy"`
}

type textProps struct {
	Markdown string `json:"markdown"`
}

// dashboardQueries spells an alarm's metric queries as a metric widget's metrics array: a metric
// as [namespace, name, dim, value, ..., {id, label, stat, period}], an expression as
// [{expression, id, label}]; a query the alarm does not compare (an expression's input) is drawn
// but not visible, so the graph shows what the alarm judges.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html#CloudWatch-Dashboard-Properties-Metrics-Array-Format
func dashboardQueries(qs []MetricQuery, period int) [][]any {
	var out [][]any
	for _, q := range qs {
		if q.Metric != nil {
			row := []any{q.Metric.Namespace, q.Metric.MetricName}
			for _, d := range q.Metric.Dimensions {
				row = append(row, d.Name, d.Value)
			}
			out = append(out, append(row, renderProps{ID: q.ID, Label: q.Label, Stat: q.Metric.Stat, Period: q.Metric.PeriodSeconds, Visible: visible(q.ReturnData)}))
			continue
		}
		out = append(out, []any{renderProps{Expression: q.Expression, ID: q.ID, Label: q.Label, Period: period}})
	}
	return out
}

// visible is a rendering property that is left out (shown) unless false.
func visible(shown bool) *bool {
	if shown {
		return nil
	}
	return &shown
}
