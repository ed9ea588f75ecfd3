package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The alarms that are not on one metric filter's metric: the Metrics rules' (an AWS-published
// metric, or metric math over it and the app's metric) and any adaptive rule's anomaly band.
// They go to PutMetricAlarm as a Metrics array of MetricDataQuery items, which CloudWatch limits:
//   - "A single PutMetricAlarm call can include up to 20 MetricDataQuery structures in the array.
//     The 20 structures can include as many as 10 structures that contain a MetricStat parameter
//     ... and as many as 10 structures that contain the Expression parameter ... Of those
//     Expression structures, one must have true as the value for ReturnData."
//   - "If you use the Metrics parameter, you cannot include the Namespace, MetricName, Dimensions,
//     Period, Unit, Statistic, or ExtendedStatistic parameters of PutMetricAlarm".
//   - an Id "can include numbers, letters, an underscore, and must start with a lowercase letter".
//   - an anomaly-band alarm names the band as ThresholdMetricId ("the ID of the
//     ANOMALY_DETECTION_BAND function used as the threshold") and, as CloudWatch answers
//     otherwise ("Exactly two elements of the metrics list should return data"), returns data for
//     both the watched metric and the band.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
// https://github.com/hashicorp/terraform-provider-aws/pull/42504 (the two ValidationError texts)

// MetricQuery is one item of an alarm's Metrics array: a metric, or an expression over others.
type MetricQuery struct {
	ID         string      `json:"id"`
	Label      string      `json:"label,omitempty"`
	Expression string      `json:"expression,omitempty"`
	Metric     *MetricStat `json:"metric,omitempty"`
	ReturnData bool        `json:"returnData"`
}

// MetricStat is the metric a query retrieves, with its statistic per period.
type MetricStat struct {
	Namespace     string      `json:"namespace"`
	MetricName    string      `json:"metricName"`
	Dimensions    []Dimension `json:"dimensions,omitempty"`
	PeriodSeconds int         `json:"period"`
	Stat          string      `json:"stat"`
}

// Dimension is one name/value pair of a metric.
type Dimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// metricAlarm is what a Metrics rule's alarm reads: one input, or an expression over several.
type metricAlarm struct {
	inputs     []metricInput
	exprID     string // the expression's Id; "" when the alarm watches inputs[0]
	expression string
	label      string
}

// metricInput is one metric an alarm reads. AWS publishes it (AWS/KMS), and when are the
// CloudTrail records it counts, which replay, the rehearsal and the cases judge; or the stack
// publishes it with a metric filter on publishFrom's log group, whose pattern when renders, in
// the stack's namespace (Params.Namespace).
type metricInput struct {
	id, label, name string
	namespace       string // an AWS-published metric's; unset for a published one
	dims            []metricDim
	publishFrom     Source // AppLogs or TrailLogs: a metric filter publishes it
	published       bool   // false: an AWS-published metric
	when            []cond
}

// namespaceIn is where the input's metric is: AWS's namespace, or p's for a metric the stack's
// filter publishes, so that the alarm reads exactly what its filter writes.
func (in metricInput) namespaceIn(p Params) string {
	if in.published {
		return p.Namespace()
	}
	return in.namespace
}

// metricDim is a dimension whose value is fixed, or a deployment value (param).
type metricDim struct {
	name, value string
	param       param
}

// bandID is the Id of the anomaly band expression of an adaptive rule's alarm.
const bandID = "band"

// queryIDPattern is what CloudWatch accepts as a MetricDataQuery Id; identifierPattern finds the
// words of an expression.
var (
	queryIDPattern    = regexp.MustCompile(`^[a-z][A-Za-z0-9_]*$`)
	identifierPattern = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// watchedID is the Id of the query whose value the alarm compares: the expression, or the one input.
func (m *metricAlarm) watchedID() string {
	if m.exprID != "" {
		return m.exprID
	}
	return m.inputs[0].id
}

// MetricQueries are the rule's alarm as a Metrics array, or nil for an alarm on one metric
// filter's metric (Alarm's MetricName). p gives the dimensions' deployment values (without the
// app key the dimension shows AppKeyPlaceholder) and the namespace of the stack's own metrics.
func (r Rule) MetricQueries(p Params) []MetricQuery {
	period := int(r.Firing.Period.Seconds())
	var qs []MetricQuery
	watched := ""
	switch {
	case r.metrics != nil:
		m := r.metrics
		for _, in := range m.inputs {
			q := MetricQuery{ID: in.id, Label: in.label, Metric: &MetricStat{Namespace: in.namespaceIn(p), MetricName: in.name,
				Dimensions: in.dimensions(p), PeriodSeconds: period, Stat: "Sum"}}
			qs = append(qs, q)
		}
		if m.exprID != "" {
			qs = append(qs, MetricQuery{ID: m.exprID, Label: m.label, Expression: m.expression})
		}
		watched = m.watchedID()
	case r.Firing.AnomalyBand > 0 && r.MetricName != "":
		qs = []MetricQuery{{ID: "events", Label: r.Title, Metric: &MetricStat{Namespace: p.Namespace(), MetricName: r.MetricName,
			PeriodSeconds: period, Stat: "Sum"}}}
		watched = "events"
	default:
		return nil
	}
	for i := range qs {
		qs[i].ReturnData = qs[i].ID == watched
	}
	if r.Firing.AnomalyBand > 0 {
		qs = append(qs, MetricQuery{ID: bandID, Label: "expected " + watched,
			Expression: fmt.Sprintf("ANOMALY_DETECTION_BAND(%s, %s)", watched, strconv.FormatFloat(r.Firing.AnomalyBand, 'f', -1, 64)),
			ReturnData: true})
	}
	return qs
}

func (in metricInput) dimensions(p Params) []Dimension {
	var out []Dimension
	for _, d := range in.dims {
		v := d.value
		if d.param == paramAppKey {
			v = p.AppKeyARN
			if v == "" {
				v = AppKeyPlaceholder
			}
		}
		out = append(out, Dimension{Name: d.name, Value: v})
	}
	return out
}

// PublishedMetric is a metric filter the stack deploys for a Metrics rule's input: the app's
// own count that the rule's expression reads.
type PublishedMetric struct {
	Name      string // the filter's name suffix and the input's Id, e.g. "served"
	Source    Source // the log group it reads
	Pattern   string
	Transform MetricTransformation
}

// PublishedMetrics are the metric filters the rule's alarm depends on, besides any of its own,
// publishing into p's namespace.
func (r Rule) PublishedMetrics(p Params) []PublishedMetric {
	if r.metrics == nil {
		return nil
	}
	var out []PublishedMetric
	for _, in := range r.metrics.inputs {
		if !in.published {
			continue
		}
		pr := Rule{when: in.when, style: styleLab, Source: in.publishFrom}
		zero := 0.0
		out = append(out, PublishedMetric{Name: in.id, Source: in.publishFrom, Pattern: pr.FilterPattern(p),
			Transform: MetricTransformation{Name: in.name, Namespace: in.namespaceIn(p), Value: "1", DefaultValue: &zero}})
	}
	return out
}

// InputRules are a Metrics rule's inputs as rules of their own, named "<rule>/<input id>", each
// matching the records its input counts: the CloudTrail records of an AWS metric, the log lines
// of a published one. The rehearsal and tests count them; nil for other rules.
func (r Rule) InputRules() []Rule {
	if r.metrics == nil {
		return nil
	}
	var out []Rule
	for _, in := range r.metrics.inputs {
		src := TrailLogs
		if in.published {
			src = in.publishFrom
		}
		out = append(out, Rule{ID: r.ID + "/" + in.id, Title: in.label, Source: src, Severity: r.Severity,
			Firing: r.Firing, when: in.when, style: styleLab})
	}
	return out
}

// Expression is a metric-math rule's expression, with the input each Id stands for, for people:
// "kms - served". "" for other rules.
func (r Rule) Expression() string {
	if r.metrics == nil || r.metrics.exprID == "" {
		return ""
	}
	return r.metrics.expression
}

// ValidateMetricQueries checks an alarm's Metrics array against what PutMetricAlarm accepts.
func ValidateMetricQueries(qs []MetricQuery, thresholdMetricID string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(qs) > 20 {
		bad("%d queries: PutMetricAlarm takes at most 20", len(qs))
	}
	ids := map[string]bool{}
	var stats, exprs, returning int
	for _, q := range qs {
		if !queryIDPattern.MatchString(q.ID) {
			bad("query id %q: must start with a lowercase letter and hold only letters, digits and _", q.ID)
		}
		if ids[q.ID] {
			bad("query id %q: used twice", q.ID)
		}
		ids[q.ID] = true
		switch {
		case (q.Metric == nil) == (q.Expression == ""):
			bad("query %s: give a metric or an expression, not both or neither", q.ID)
		case q.Metric != nil:
			stats++
			if p := q.Metric.PeriodSeconds; p < 60 || p%60 != 0 {
				bad("query %s: period %d: a multiple of 60 for standard-resolution metrics", q.ID, p)
			}
			if q.Metric.Namespace == "" || q.Metric.MetricName == "" || q.Metric.Stat == "" {
				bad("query %s: a metric needs a namespace, a name and a statistic", q.ID)
			}
		default:
			exprs++
			for _, ref := range expressionIDs(q.Expression) {
				if !ids[ref] {
					bad("query %s: expression %q names %s, which no earlier query defines", q.ID, q.Expression, ref)
				}
			}
		}
		if q.ReturnData {
			returning++
		}
	}
	if stats > 10 || exprs > 10 {
		bad("%d metrics and %d expressions: PutMetricAlarm takes at most 10 of each", stats, exprs)
	}
	want := 1
	if thresholdMetricID != "" {
		want = 2 // the watched series and the band
		i := slices.IndexFunc(qs, func(q MetricQuery) bool { return q.ID == thresholdMetricID })
		if i < 0 || !strings.HasPrefix(qs[i].Expression, "ANOMALY_DETECTION_BAND(") || !qs[i].ReturnData {
			bad("threshold metric %q: must be an ANOMALY_DETECTION_BAND expression that returns data", thresholdMetricID)
		}
	}
	if returning != want {
		bad("%d queries return data: want exactly %d", returning, want)
	}
	return errors.Join(errs...)
}

// expressionIDs are the query ids an expression names: the lowercase-led words that are not
// functions (functions are upper case).
func expressionIDs(expr string) []string {
	var out []string
	for _, w := range identifierPattern.FindAllString(expr, -1) {
		if w[0] >= 'a' && w[0] <= 'z' {
			out = append(out, w)
		}
	}
	return out
}
