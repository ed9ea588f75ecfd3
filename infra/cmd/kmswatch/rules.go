package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kmswatch/kmswatch/infra/rules"
)

func runRules(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	roleARN := fs.String("role-arn", "", "the app's ECS task role ARN to render the app rules with (default: "+rules.RoleARNPlaceholder+")")
	appKeyARN := fs.String("app-key-arn", "", "the app key's ARN, whose AWS/KMS per-key metrics the metrics rules read (default: "+rules.AppKeyPlaceholder+")")
	var keyARNs stringList
	fs.Var(&keyARNs, "key-arn", "a KMS key of the stack, to scope kms-key-policy-change's pattern: key ARN, key id, alias name or alias ARN (repeatable; default: any key)")
	asJSON := fs.Bool("json", false, "one JSON object per rule and line")
	format := fs.String("format", "", "print each rule as a hunting query instead: athena (SQL over the CloudTrail table) or insights (Logs Insights)")
	stackConfig := fs.String("stack-config", "", "a stack file (e.g. Pulumi.dev.yaml): show the rules with that stack's firing settings, as deployed")
	fs.Usage = usageFunc(fs, "kmswatch rules [--role-arn ARN] [--app-key-arn ARN] [--key-arn KEY]... [--stack-config FILE] [--json | --format athena|insights]",
		"Lists the rules with what infra deploys from them: CloudWatch Logs filter patterns, metric and alarm\nparameters, EventBridge patterns. --format prints the Athena or Logs Insights query the stack saves\nfor each rule instead.")
	positional, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return usageError(stderr, "rules", "unexpected argument %q", positional[0])
	}
	switch {
	case *format != "" && *format != "athena" && *format != "insights":
		return usageError(stderr, "rules", "--format %q: want athena or insights", *format)
	case *format != "" && *asJSON:
		return usageError(stderr, "rules", "--json and --format: choose one")
	}
	rs, err := rulesForStack(*stackConfig)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch rules: --stack-config: %v\n", err)
		return exitUsage
	}
	p, notes, err := keyParams(keyARNs, "", "")
	if err != nil {
		return usageError(stderr, "rules", "%v", err)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "kmswatch rules: note: --key-arn %s\n", n)
	}
	p.TaskRoleARN = *roleARN
	if *appKeyARN != "" {
		if p.AppKeyARN, err = appKeyParam(*appKeyARN); err != nil {
			return usageError(stderr, "rules", "%v", err)
		}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if *format != "" {
		if err := writeHuntingQueries(w, rs, p, *format); err != nil {
			fmt.Fprintf(stderr, "kmswatch rules: %v\n", err)
			return exitFindings
		}
		return exitOK
	}
	if *asJSON {
		for _, r := range rs {
			writeRuleJSON(w, r, p)
		}
		return exitOK
	}
	writeRulesTable(w, rs, p)
	return exitOK
}

// writeHuntingQueries prints each rule's query, a blank line between rules, exactly as the stack
// saves it (Athena named queries, Logs Insights query definitions). A rule on the app's logs has
// no Athena query: a comment says so.
func writeHuntingQueries(w io.Writer, rs []rules.Rule, p rules.Params, format string) error {
	for i, r := range rs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		var query string
		var err error
		switch {
		case format == "insights" && !r.HasInsightsQuery():
			query = fmt.Sprintf("# kmswatch %s: no Logs Insights query: the rule %v\n", r.ID, rules.ErrTwoLogs)
		case format == "insights":
			query, err = r.InsightsQuery(p)
		case !r.HasAthenaQuery() && r.Source == rules.AppLogs:
			query = fmt.Sprintf("-- kmswatch %s: no Athena query: the rule %v\n", r.ID, rules.ErrNotInTrail)
		case !r.HasAthenaQuery():
			query = fmt.Sprintf("-- kmswatch %s: no Athena query: the rule %v\n", r.ID, rules.ErrTwoLogs)
		default:
			query, err = r.AthenaQuery(p)
		}
		if err != nil {
			return err
		}
		fmt.Fprint(w, query)
	}
	return nil
}

// ruleView is the JSON shape of one rule in `kmswatch rules --json`.
type ruleView struct {
	ID            string                  `json:"id"`
	Title         string                  `json:"title"`
	Severity      rules.Severity          `json:"severity"`
	Source        string                  `json:"source"`
	Description   string                  `json:"description"`
	FilterPattern string                  `json:"filterPattern,omitempty"`
	Metric        *metricView             `json:"metric,omitempty"`
	Alarm         *rules.AlarmSpec        `json:"alarm,omitempty"`
	MetricQueries []rules.MetricQuery     `json:"metricQueries,omitempty"` // the alarm's Metrics array, when it has one
	Publishes     []publishedView         `json:"publishes,omitempty"`     // metric filters the alarm reads
	Replay        string                  `json:"replay,omitempty"`        // an offline rule: what replay joins`
	Immediate     bool                    `json:"immediate"`
	MayContain    bool                    `json:"mayContain"` // containOnRules may name it: its alarm is about the task role's credentials
	EventPattern  json.RawMessage         `json:"eventPattern,omitempty"`
	Notification  *rules.InputTransformer `json:"notification,omitempty"`
	Runbook       string                  `json:"runbook"`
	References    []string                `json:"references,omitempty"`
}

type publishedView struct {
	LogGroup      string     `json:"logGroup"`
	FilterPattern string     `json:"filterPattern"`
	Metric        metricView `json:"metric"`
}

type metricView struct {
	Namespace    string   `json:"namespace"`
	Name         string   `json:"name"`
	Value        string   `json:"value"`
	DefaultValue *float64 `json:"defaultValue"`
}

func viewRule(r rules.Rule, p rules.Params) ruleView {
	v := ruleView{
		ID: r.ID, Title: r.Title, Severity: r.Severity, Source: r.Source.String(), Description: r.Description,
		FilterPattern: r.FilterPattern(p), Immediate: r.Firing.Immediate, MayContain: r.CanContain(),
		Runbook: r.Runbook, References: r.References,
	}
	if r.MetricName != "" {
		mt := r.MetricTransformation(p)
		v.Metric = &metricView{Namespace: mt.Namespace, Name: mt.Name, Value: mt.Value, DefaultValue: mt.DefaultValue}
	}
	if a := r.Alarm(p); a != (rules.AlarmSpec{}) {
		v.Alarm = &a
		v.MetricQueries = r.MetricQueries(p)
	}
	for _, pm := range r.PublishedMetrics(p) {
		mt := pm.Transform
		v.Publishes = append(v.Publishes, publishedView{LogGroup: pm.Source.String(), FilterPattern: pm.Pattern,
			Metric: metricView{Namespace: mt.Namespace, Name: mt.Name, Value: mt.Value, DefaultValue: mt.DefaultValue}})
	}
	if r.Source == rules.Offline {
		v.Replay = offlineJoin
	}
	if pattern, ok := r.EventPattern(p); ok {
		v.EventPattern = json.RawMessage(pattern)
		n := r.Notification()
		v.Notification = &n
	}
	return v
}

func writeRuleJSON(w io.Writer, r rules.Rule, p rules.Params) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep && and <task role ARN> readable
	if err := enc.Encode(viewRule(r, p)); err != nil {
		panic(err) // plain strings and numbers: cannot fail
	}
}

// offlineJoin says what replay does for an Offline rule.
const offlineJoin = "each record joined with the app's decrypt_served line of the same request id (requestID = kms_request_id); " +
	"replay reports every record without one"

func writeRulesTable(w io.Writer, rs []rules.Rule, p rules.Params) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tSOURCE\tFIRES\tMETRIC\tCONTAIN")
	for _, r := range rs {
		contain := "-"
		if r.CanContain() {
			contain = "may" // containOnRules may name it
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Source, r.Firing, metricColumn(r, p), contain)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nCONTAIN: may the stack setting containOnRules name the rule (its alarm is about the task role's credentials).")
	for _, r := range rs {
		fmt.Fprintf(w, "\n%s: %s\n", r.ID, r.Title)
		if fp := r.FilterPattern(p); fp != "" {
			fmt.Fprintf(w, "  filter pattern: %s\n", fp)
		}
		for _, line := range alarmLines(r, p) {
			fmt.Fprintf(w, "  %s\n", line)
		}
		if ep, ok := r.EventPattern(p); ok {
			fmt.Fprintf(w, "  event pattern:  %s\n", ep)
		}
		if r.Source == rules.Offline {
			fmt.Fprintf(w, "  replay only:    %s\n", offlineJoin)
		}
		fmt.Fprintf(w, "  runbook:        %s\n", r.Runbook)
	}
}

// metricColumn is what the rule's alarm watches, in a word, in p's namespace.
func metricColumn(r rules.Rule, p rules.Params) string {
	switch {
	case r.MetricName != "":
		return p.Namespace() + "/" + r.MetricName
	case r.Expression() != "":
		return r.Expression()
	}
	for _, q := range r.MetricQueries(p) {
		if q.Metric != nil {
			return q.Metric.Namespace + "/" + q.Metric.MetricName
		}
	}
	return "-"
}

// alarmLines render the rule's alarm: what it compares, with what, over how many periods, and
// the metrics an expression or a band reads.
func alarmLines(r rules.Rule, p rules.Params) []string {
	a := r.Alarm(p)
	if a == (rules.AlarmSpec{}) {
		return nil
	}
	queries := r.MetricQueries(p)
	watched, threshold := fmt.Sprintf("%s(%s)", a.Statistic, a.MetricName), fmt.Sprintf("%g", a.Threshold)
	var inputs []string
	for _, q := range queries {
		switch {
		case q.ID == a.ThresholdMetricID:
			threshold = q.Expression
		case q.ReturnData && q.Metric != nil:
			watched = metricStat(q.Metric)
		case q.ReturnData:
			watched = q.ID + " = " + q.Expression
		case q.Metric != nil:
			inputs = append(inputs, fmt.Sprintf("  %s = %s", q.ID, metricStat(q.Metric)))
		}
	}
	period := a.PeriodSeconds
	lines := []string{fmt.Sprintf("alarm:          %s %s %s in %d of %d period(s) of %ds, missing data %s, tolerates data %s late",
		watched, a.ComparisonOperator, threshold, a.DatapointsToAlarm, a.EvaluationPeriods, period, a.TreatMissingData, minutes(r.Firing.LateTolerance()))}
	for _, in := range inputs {
		lines = append(lines, "               "+in)
	}
	for _, pm := range r.PublishedMetrics(p) {
		lines = append(lines, fmt.Sprintf("publishes:      %s/%s from %s: %s", pm.Transform.Namespace, pm.Transform.Name, pm.Source, pm.Pattern))
	}
	return lines
}

func metricStat(m *rules.MetricStat) string {
	s := m.Stat + "(" + m.Namespace + " " + m.MetricName
	for _, d := range m.Dimensions {
		s += " " + d.Name + "=" + d.Value
	}
	return s + ")"
}
