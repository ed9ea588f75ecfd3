package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// NotificationContext is where the alarm lives, for the notification text.
type NotificationContext struct {
	Region     string // e.g. "us-east-1"
	RegionName string // e.g. "US East (N. Virginia)"
	Account    string
	TopicARN   string
	// StackPrefix names the stack's resources, e.g. "kmswatch-dev" (see Rule.AlarmName).
	StackPrefix string
	// AppKeyARN is the app key a Metrics rule's alarm names in its dimensions; "" shows AppKeyPlaceholder.
	AppKeyARN string
}

// MaxAlarmDescription is CloudWatch's limit on an alarm's AlarmDescription ("Length Constraints:
// Minimum length of 0. Maximum length of 1024."). AlarmDescription keeps to it in bytes, within
// the limit however AWS counts.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
const MaxAlarmDescription = 1024

// AlarmDescription is the AlarmDescription the stack deploys on the rule's alarm, and so the
// "- Description:" line of every email CloudWatch sends for it: what fired and what to do,
// within CloudWatch's limit.
func AlarmDescription(r Rule) string {
	return Truncate(fmt.Sprintf("[%s] %s (%s). %s What to do: %s", r.Severity, r.Title, r.ID, r.Description, r.Runbook), MaxAlarmDescription)
}

// Truncate shortens s to at most limit bytes, ending in "…" when cut, without splitting a UTF-8
// sequence.
func Truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// cloudWatchTime is how CloudWatch's alarm emails print times.
const cloudWatchTime = "Monday 2 January, 2006 15:04:05 UTC"

// Reason is the alarm's "Reason for State Change", modeled on CloudWatch's wording: to ALARM it
// lists the breaching data points the alarm saw, newest first; to OK it counts the others.
func (t Transition) Reason(f Firing) string {
	n, m := len(t.Datapoints), f.Datapoints()
	if t.To == StateAlarm {
		var listed []string
		for _, d := range t.Datapoints {
			if d.Breaching {
				listed = append(listed, fmt.Sprintf("%.1f (%s)", float64(d.Count), d.Start.UTC().Format("02/01/06 15:04:05")))
			}
		}
		return fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s greater than or equal to the threshold (%.1f) (minimum %s for OK -> ALARM transition).",
			len(listed), n, strings.Join(listed, ", "), plural(len(listed), "was", "were"), f.Threshold, datapoints(m))
	}
	below := 0
	for _, d := range t.Datapoints {
		if !d.Breaching {
			below++
		}
	}
	return fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s not greater than or equal to the threshold (%.1f) (minimum %s for ALARM -> OK transition).",
		below, n, plural(below, "was", "were"), f.Threshold, datapoints(n-m+1))
}

func datapoints(k int) string { return fmt.Sprintf("%d %s", k, plural(k, "datapoint", "datapoints")) }

func plural(k int, one, many string) string {
	if k == 1 {
		return one
	}
	return many
}

// AlarmEmail renders the email SNS delivers for a transition of the rule's alarm, modeled on
// CloudWatch's alarm notification (subject and plain-text body).
func (r Rule) AlarmEmail(t Transition, nc NotificationContext) (subject, body string) {
	name := r.AlarmName(nc.StackPrefix)
	subject = fmt.Sprintf("%s: %q in %s", t.To, name, nc.RegionName)
	at := t.At.UTC().Format(cloudWatchTime)
	reason := t.Reason(r.Firing)
	p := Params{AppKeyARN: nc.AppKeyARN}
	if nc.StackPrefix != "" {
		p.MetricNamespace = StackMetricNamespace(nc.StackPrefix) // the namespace the stack's alarm reads
	}
	a := r.Alarm(p)
	var b strings.Builder
	fmt.Fprintf(&b, "You are receiving this email because your Amazon CloudWatch Alarm %q in the %s region has entered the %s state, because %q at %q.\n\n",
		name, nc.RegionName, t.To, reason, at)
	fmt.Fprintf(&b, "Alarm Details:\n")
	fmt.Fprintf(&b, "- Name:                       %s\n", name)
	fmt.Fprintf(&b, "- Description:                %s\n", AlarmDescription(r))
	fmt.Fprintf(&b, "- State Change:               %s -> %s\n", t.From, t.To)
	fmt.Fprintf(&b, "- Reason for State Change:    %s\n", reason)
	fmt.Fprintf(&b, "- Timestamp:                  %s\n", at)
	fmt.Fprintf(&b, "- AWS Account:                %s\n", nc.Account)
	fmt.Fprintf(&b, "- Alarm Arn:                  arn:aws:cloudwatch:%s:%s:alarm:%s\n\n", nc.Region, nc.Account, name)
	if queries := r.MetricQueries(p); queries != nil {
		writeMonitoredMetrics(&b, a, queries)
		fmt.Fprintf(&b, "State Change Actions:\n- OK: [%s]\n- ALARM: [%s]\n- INSUFFICIENT_DATA:\n", nc.TopicARN, nc.TopicARN)
		return subject, b.String()
	}
	fmt.Fprintf(&b, "Threshold:\n- The alarm is in the ALARM state when the metric is %s %.1f for at least %d of the last %d period(s) of %d seconds.\n\n",
		a.ComparisonOperator, a.Threshold, a.DatapointsToAlarm, a.EvaluationPeriods, a.PeriodSeconds)
	fmt.Fprintf(&b, "Monitored Metric:\n")
	fmt.Fprintf(&b, "- MetricNamespace:                     %s\n", a.Namespace)
	fmt.Fprintf(&b, "- MetricName:                          %s\n", a.MetricName)
	fmt.Fprintf(&b, "- Dimensions:                          \n")
	fmt.Fprintf(&b, "- Period:                              %d seconds\n", a.PeriodSeconds)
	fmt.Fprintf(&b, "- Statistic:                           %s\n", a.Statistic)
	fmt.Fprintf(&b, "- Unit:                                not specified\n")
	fmt.Fprintf(&b, "- TreatMissingData:                    %s\n\n", a.TreatMissingData)
	fmt.Fprintf(&b, "State Change Actions:\n- OK: [%s]\n- ALARM: [%s]\n- INSUFFICIENT_DATA:\n", nc.TopicARN, nc.TopicARN)
	return subject, b.String()
}

// writeMonitoredMetrics is the threshold and metrics part of the email for an alarm on a Metrics
// array: each query, and what the alarm compares.
func writeMonitoredMetrics(b *strings.Builder, a AlarmSpec, queries []MetricQuery) {
	threshold := fmt.Sprintf("%s %.1f", a.ComparisonOperator, a.Threshold)
	for _, q := range queries {
		if q.ID == a.ThresholdMetricID {
			threshold = a.ComparisonOperator + " of " + q.Expression
		}
	}
	fmt.Fprintf(b, "Threshold:\n- The alarm is in the ALARM state when the value it watches is %s for at least %d of the last %d period(s) of %d seconds.\n\n",
		threshold, a.DatapointsToAlarm, a.EvaluationPeriods, a.PeriodSeconds)
	fmt.Fprintf(b, "Monitored Metrics:\n")
	for _, q := range queries {
		watched := ""
		if q.ReturnData && q.ID != a.ThresholdMetricID {
			watched = " (the value the alarm watches)"
		}
		if m := q.Metric; m != nil {
			var dims []string
			for _, d := range m.Dimensions {
				dims = append(dims, d.Name+"="+d.Value)
			}
			fmt.Fprintf(b, "- %s: %s %s [%s], %s per %d seconds%s\n", q.ID, m.Namespace, m.MetricName, strings.Join(dims, ", "), m.Stat, m.PeriodSeconds, watched)
			continue
		}
		fmt.Fprintf(b, "- %s = %s%s\n", q.ID, q.Expression, watched)
	}
	fmt.Fprintf(b, "- TreatMissingData: %s\n\n", a.TreatMissingData)
}
