package rules

import (
	"strings"
)

// The CloudWatch Logs JSON filter-pattern syntax rendered here: selectors "$.a.b", "=" with a
// quoted or bare string, "*" as a wildcard for any value, "NOT EXISTS" for a missing property,
// "&&" and "||" with parentheses for grouping.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html

// patternStyle is how a rule's pattern is spelled. Two published patterns are kept character for
// character, so that a reviewer can diff ours against the lab guide and the CIS benchmark.
type patternStyle int

const (
	styleLab patternStyle = iota // { ($.a = "x") && ($.b NOT EXISTS) }: the lab guide's spacing, quoted values
	styleCIS                     // {($.a = x) && (($.b=y)||($.b=z))}: the CIS AWS Foundations Benchmark's spelling
)

// FilterPattern renders the rule's CloudWatch Logs filter pattern (Source TrailLogs or AppLogs);
// "" for the others. Without a task role ARN the pattern shows RoleARNPlaceholder.
func (r Rule) FilterPattern(p Params) string {
	if r.Source != TrailLogs && r.Source != AppLogs {
		return ""
	}
	var terms []string
	for _, c := range r.when {
		if c.op == opAny {
			if t := r.style.anyTerm(c, p); t != "" && !c.replayOnly {
				terms = append(terms, t)
			}
			continue
		}
		values, applies := c.rendered(p)
		if !applies {
			continue
		}
		terms = append(terms, r.style.term(c, values))
	}
	if r.style == styleCIS {
		return "{" + strings.Join(terms, " && ") + "}"
	}
	return "{ " + strings.Join(terms, " && ") + " }"
}

func (s patternStyle) term(c cond, values []string) string {
	sel := "$." + c.field
	switch c.op {
	case opPresent:
		return "(" + sel + " = " + s.value("*") + ")"
	case opAbsent:
		return "(" + sel + " NOT EXISTS)"
	}
	if len(values) == 1 {
		return "(" + sel + " = " + s.value(values[0]) + ")"
	}
	alts := make([]string, len(values))
	for i, v := range values {
		if s == styleCIS {
			alts[i] = "(" + sel + "=" + s.value(v) + ")"
		} else {
			alts[i] = "(" + sel + " = " + s.value(v) + ")"
		}
	}
	if s == styleCIS {
		return "(" + strings.Join(alts, "||") + ")"
	}
	return "(" + strings.Join(alts, " || ") + ")"
}

// value spells a string operand: quoted in the lab style (escaping \ and "), bare in the CIS style.
func (s patternStyle) value(v string) string {
	if s == styleCIS {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// MetricTransformation is what a metric filter publishes for each matching log event.
type MetricTransformation struct {
	Name         string
	Namespace    string
	Value        string
	DefaultValue *float64 // nil: publish nothing when no event matches
}

// MetricTransformation returns the rule's metric, in p's namespace: 1 per matching event, 0 when
// logs arrive but none match, so the graph shows a quiet period as zero rather than a gap.
func (r Rule) MetricTransformation(p Params) MetricTransformation {
	zero := 0.0
	return MetricTransformation{Name: r.MetricName, Namespace: p.Namespace(), Value: "1", DefaultValue: &zero}
}

// AlarmSpec is a CloudWatch metric alarm on a rule's metric. With MetricName empty the alarm
// reads Rule.MetricQueries instead (a Metrics rule, or an anomaly band): PutMetricAlarm then
// takes the period inside each query, and no Namespace, MetricName or Statistic.
type AlarmSpec struct {
	MetricName, Namespace, Statistic string // Statistic "Sum"
	PeriodSeconds, EvaluationPeriods int
	DatapointsToAlarm                int // always set, so that the deployed alarm says M out of N
	Threshold                        float64
	ComparisonOperator               string // "GreaterThanOrEqualToThreshold", or "GreaterThanUpperThreshold" for a band
	TreatMissingData                 string // "notBreaching"
	ThresholdMetricID                string `json:",omitempty"` // the anomaly band's query id; Threshold is then unused
}

// Alarm returns the alarm for a rule that has one, on its metric in p's namespace (the one
// MetricTransformation publishes into); the zero AlarmSpec for an immediate rule.
func (r Rule) Alarm(p Params) AlarmSpec {
	if r.Firing.Immediate || (r.MetricName == "" && r.metrics == nil) {
		return AlarmSpec{}
	}
	a := AlarmSpec{
		PeriodSeconds:      int(r.Firing.Period.Seconds()),
		EvaluationPeriods:  r.Firing.EvaluationPeriods,
		DatapointsToAlarm:  r.Firing.Datapoints(),
		Threshold:          r.Firing.Threshold,
		ComparisonOperator: "GreaterThanOrEqualToThreshold",
		// No matching events is the healthy state, not a lack of data: "for a metric that generates
		// data points only when an error occurs ... you would want to treat missing data as
		// notBreaching". https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data
		TreatMissingData: "notBreaching",
	}
	if r.metrics == nil && r.Firing.AnomalyBand == 0 {
		a.MetricName, a.Namespace, a.Statistic = r.MetricName, p.Namespace(), "Sum"
	}
	if r.Firing.AnomalyBand > 0 {
		// Only an upper breach means abuse; "LessThanLowerOrGreaterThanUpperThreshold,
		// LessThanLowerThreshold, and GreaterThanUpperThreshold are used only for alarms based on
		// anomaly detection models". https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
		a.ComparisonOperator, a.Threshold, a.ThresholdMetricID = "GreaterThanUpperThreshold", 0, bandID
	}
	return a
}

// AlarmName is the name the stack gives the rule's alarm: the stack's name prefix
// (e.g. "kmswatch-dev") and the rule id. Rehearsed notifications use the same name.
func (r Rule) AlarmName(stackPrefix string) string { return stackPrefix + "-" + r.ID }
