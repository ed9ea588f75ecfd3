// Package rules holds kmswatch's detection rules as data. From one definition per rule it derives
// what infra deploys (CloudWatch Logs filter patterns, metric transformations, alarms, EventBridge
// patterns and input transformers) and what the kmswatch CLI runs offline (a matcher with the same
// semantics, an alarm evaluator, and a reader for CloudTrail log files). It imports no Pulumi.
package rules

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MetricNamespace is the CloudWatch namespace of the metrics the rules publish when no stack is
// named (Params.MetricNamespace empty): what the offline renderings show. A deployed stack
// publishes into its own namespace below it, StackMetricNamespace, so that two stacks in one
// account never count into, and alarm on, each other's metrics.
const MetricNamespace = "kmswatch"

// StackMetricNamespace is the namespace a stack's metric filters publish into and its alarms
// read: "kmswatch/<stack prefix>", e.g. "kmswatch/kmswatch-dev".
func StackMetricNamespace(stackPrefix string) string { return MetricNamespace + "/" + stackPrefix }

// maxNamespaceLength is CloudWatch's limit on a namespace; namespaceChars what it refuses in one.
// A metric filter's metricNamespace: "Length Constraints: Maximum length of 255. Pattern: [^:*$]*"
// (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_MetricTransformation.html);
// an alarm's or a query's metric Namespace: "Minimum length of 1. Maximum length of 255. Pattern:
// [^:].*" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html);
// PutMetricData: "You can use ASCII characters for the namespace, except for control characters",
// and "you should not specify a namespace that begins with AWS/" (AWS's own)
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
const (
	maxNamespaceLength = 255
	namespaceForbidden = ":*$"
)

// ValidateMetricNamespace checks a namespace for the stack's metrics against what both a metric
// filter and an alarm accept: 1 to 255 printable ASCII characters, none of : * $, not AWS/.
func ValidateMetricNamespace(ns string) error {
	switch {
	case ns == "" || len(ns) > maxNamespaceLength:
		return fmt.Errorf("metric namespace %q: CloudWatch takes 1 to %d characters", ns, maxNamespaceLength)
	case strings.HasPrefix(ns, "AWS/"):
		return fmt.Errorf("metric namespace %q: AWS/ is reserved for AWS's own metrics", ns)
	case strings.ContainsAny(ns, namespaceForbidden):
		return fmt.Errorf("metric namespace %q: a metric filter's namespace may not hold %s", ns, namespaceForbidden)
	}
	for _, c := range ns {
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("metric namespace %q: ASCII without control characters only", ns)
		}
	}
	return nil
}

// RoleARNPlaceholder stands in for the task role ARN when none is given, as the lab's guide writes it.
const RoleARNPlaceholder = "<task role ARN>"

// AppKeyPlaceholder stands in for the app key's ARN when none is given.
const AppKeyPlaceholder = "<app key ARN>"

// Source says where a rule's events come from and so how it is deployed.
type Source int

const (
	TrailLogs   Source = iota // CloudTrail's CloudWatch Logs group: metric filter + alarm
	AppLogs                   // the app's log group (JSON slog lines): metric filter + alarm
	EventBridge               // CloudTrail management events on the default event bus: EventBridge rule, notifies at once
	// Metrics CloudWatch already holds: AWS-published ones (AWS/KMS) and the app's own, alone or
	// in a metric-math expression: an alarm on them, and the metric filters that publish the
	// app's. Offline, the rule's conditions are the CloudTrail records the AWS metric counts.
	Metrics
	// Offline rules join records that no CloudWatch pattern can relate (a trail record with the
	// app's log line for the same request): `kmswatch replay` judges them, nothing is deployed.
	Offline
)

func (s Source) String() string {
	switch s {
	case TrailLogs:
		return "trail-logs"
	case AppLogs:
		return "app-logs"
	case EventBridge:
		return "eventbridge"
	case Metrics:
		return "metrics"
	case Offline:
		return "replay-only"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Severity ranks how urgently a person should act: "low" | "medium" | "high" | "critical".
type Severity string

const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Firing says how a rule fires. Immediate rules have no alarm. A log rule's alarm is a CloudWatch
// metric alarm on the Sum of its metric per Period: ALARM when at least DatapointsToAlarm of the
// last EvaluationPeriods periods reach Threshold (an "M out of N" alarm), evaluated every minute.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation
type Firing struct {
	Period            time.Duration // multiple of 60s (metric filters publish standard-resolution metrics)
	EvaluationPeriods int           // N: how many periods back each evaluation looks
	DatapointsToAlarm int           // M: breaching periods among those N that mean ALARM; 0 means N (see Datapoints)
	Threshold         float64       // a period breaches when its Sum >= Threshold
	Immediate         bool          // one event is enough (EventBridge)
	// AnomalyBand, when above zero, alarms on a CloudWatch anomaly-detection band of that many
	// standard deviations instead of Threshold (rules that allow it, see Rule.Adaptive). Offline
	// evaluation keeps Threshold: no model is trained outside CloudWatch.
	AnomalyBand float64
}

// Datapoints is M, the breaching periods that move the alarm to ALARM. Zero means all N, as
// CloudWatch reads an alarm without DatapointsToAlarm ("This is used only if you are setting an
// 'M out of N' alarm").
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
func (f Firing) Datapoints() int {
	if f.DatapointsToAlarm == 0 {
		return f.EvaluationPeriods
	}
	return f.DatapointsToAlarm
}

// LateTolerance is how late a burst may reach CloudWatch Logs and still move the alarm to ALARM,
// when the burst's M breaching periods lie in a span of M periods: its data points carry the
// events' own times, so the burst must still lie within the last N periods when the alarm first
// sees it. Zero for immediate rules (EventBridge delivers the event itself, not a data point).
func (f Firing) LateTolerance() time.Duration {
	if f.Immediate || f.EvaluationPeriods < f.Datapoints() {
		return 0
	}
	return f.Period * time.Duration(f.EvaluationPeriods-f.Datapoints())
}

// maxAlarmWindow is CloudWatch's limit on Period*EvaluationPeriods for alarms with periods
// under an hour.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
const maxAlarmWindow = 24 * time.Hour

// Validate checks the firing against what CloudWatch accepts for a metric-filter alarm.
func (f Firing) Validate() error {
	if f.Immediate {
		return nil
	}
	var errs []error
	if f.Period < time.Minute || f.Period%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("period %s: must be a whole number of minutes, at least 60s", f.Period))
	}
	if f.EvaluationPeriods < 1 {
		errs = append(errs, fmt.Errorf("evaluation periods %d: must be at least 1", f.EvaluationPeriods))
	}
	if f.EvaluationPeriods >= 1 && f.Period*time.Duration(f.EvaluationPeriods) > maxAlarmWindow {
		errs = append(errs, fmt.Errorf("period %s x %d evaluation periods: must not exceed 24h", f.Period, f.EvaluationPeriods))
	}
	if f.DatapointsToAlarm < 0 || f.DatapointsToAlarm > f.EvaluationPeriods {
		errs = append(errs, fmt.Errorf("datapoints to alarm %d: must be between 1 and the %d evaluation periods (0 means all of them)", f.DatapointsToAlarm, f.EvaluationPeriods))
	}
	if f.Threshold < 1 {
		errs = append(errs, fmt.Errorf("threshold %g: must be at least 1", f.Threshold))
	}
	if f.AnomalyBand < 0 || math.IsNaN(f.AnomalyBand) || math.IsInf(f.AnomalyBand, 0) {
		errs = append(errs, fmt.Errorf("anomaly band %g: must be a positive number of standard deviations, or 0 for the fixed threshold", f.AnomalyBand))
	}
	return errors.Join(errs...)
}

func (f Firing) String() string {
	if f.Immediate {
		return "at once, per event"
	}
	if f.AnomalyBand > 0 {
		return fmt.Sprintf("above a %g-sigma anomaly band per %s in %d of %d periods", f.AnomalyBand, shortDuration(f.Period), f.Datapoints(), f.EvaluationPeriods)
	}
	return fmt.Sprintf(">= %g per %s in %d of %d periods", f.Threshold, shortDuration(f.Period), f.Datapoints(), f.EvaluationPeriods)
}

// shortDuration prints whole hours and minutes as "1h", "5m", "1h30m"; others as Go does.
func shortDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0 && d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// Params are the deployment's values that rules refer to.
type Params struct {
	TaskRoleARN string   // IAM role ARN of the app's ECS task role (arn:aws:iam::<acct>:role/<name>)
	KeyARNs     []string // the stack's KMS key ARNs; with KeyAliases and KeyIDs empty: any key
	// KeyAliases are the keys' aliases, as alias names ("alias/kmswatch-dev-app") or alias ARNs.
	// A name is made an ARN in the partition, account and Region of each key ARN.
	KeyAliases []string
	// KeyIDs are bare key ids whose account and Region are not known (replay without --account
	// and --region): they match the id as a caller sent it and any key ARN ending in it.
	KeyIDs []string
	// AppKeyARN is the key the app encrypts with, the one key whose per-key metrics the Metrics
	// rules watch; "" renders AppKeyPlaceholder and matches no record.
	AppKeyARN string
	// MetricNamespace is where the stack's metric filters publish and its alarms and dashboard
	// read them (StackMetricNamespace); "" is MetricNamespace, as offline renderings show it.
	MetricNamespace string
}

// Namespace is the namespace of the metrics the rules publish: the stack's, else MetricNamespace.
func (p Params) Namespace() string {
	if p.MetricNamespace == "" {
		return MetricNamespace
	}
	return p.MetricNamespace
}

// Rule is one detection: what to look for (its condition) and how it fires.
type Rule struct {
	ID          string // stable, e.g. "app-kms-errors"
	Title       string
	Description string
	Severity    Severity
	Source      Source
	MetricName  string // CloudWatch metric name for log-based rules, e.g. "AppKmsErrors"; "" for EventBridge-only rules
	Firing      Firing
	Runbook     string   // what a person should do when it fires
	References  []string // where the rule comes from

	when   []cond       // all must hold
	style  patternStyle // how the CloudWatch pattern is spelled
	notify bool         // also notify at once through EventBridge (critical log rules)
	cases  []Case       // the rule's own positive and negative test records

	metrics  *metricAlarm // Metrics rules: what the alarm reads (metrics.go)
	join     *servedJoin  // Offline rules: the app log line each matching record must have (join.go)
	adaptive bool         // a volume rule: its firing may use an anomaly band (Firing.AnomalyBand)
	contains bool         // its alarm may trigger the responder although no condition names the task role
}

// Case is one test record for a rule with the result the rule must give, panther-analysis style.
type Case struct {
	Name   string
	Record string // JSON of one record (CloudTrail or app log line); or empty when Sample is set
	Sample string // file name in testdata/cloudtrail (see its README); a {"Records":[...]} file must hold exactly one match
	Params Params
	Want   bool
	// Input, for a metric-math rule, is the input the record counts in (Want true); "" for none.
	Input string
	// With are other records (JSON lines) replayed with this one: an Offline rule's case judges
	// the record against them, e.g. the app's decrypt_served lines.
	With string
}

// Cases returns the rule's test records.
func (r Rule) Cases() []Case { return append([]Case(nil), r.cases...) }

// UsesTaskRole reports whether the rule needs Params.TaskRoleARN to mean anything.
func (r Rule) UsesTaskRole() bool { return r.usesParam(paramTaskRole) }

// UsesAppKey reports whether the rule needs Params.AppKeyARN to mean anything.
func (r Rule) UsesAppKey() bool { return r.usesParam(paramAppKey) }

func (r Rule) usesParam(p param) bool {
	for _, c := range r.allConds() {
		if c.param == p {
			return true
		}
		for _, a := range c.alts {
			if a.param == p {
				return true
			}
		}
	}
	return false
}

// allConds are the rule's conditions and, for a metric-math rule, its inputs'.
func (r Rule) allConds() []cond {
	out := append([]cond(nil), r.when...)
	if r.metrics != nil {
		for _, in := range r.metrics.inputs {
			out = append(out, in.when...)
		}
	}
	return out
}

// Adaptive reports whether the rule's alarm may use an anomaly band instead of its threshold.
func (r Rule) Adaptive() bool { return r.adaptive }

// CanContain reports whether the rule's alarm may trigger the responder, which revokes the task
// role's sessions: an alarm on the task role's own calls, or on decrypts of the app key that the
// app did not serve.
func (r Rule) CanContain() bool {
	if r.Firing.Immediate {
		return false
	}
	return r.contains || ((r.Source == TrailLogs || r.Source == AppLogs) && r.UsesTaskRole())
}

// Default returns the shipped rules in a stable order.
func Default() []Rule {
	return []Rule{
		appKMSErrors(),
		keyDisableOrDelete(),
		appDecryptVolume(),
		appDecryptDenied(),
		keyPolicyChange(),
		appKeyDecryptRate(),
		appDecryptUnserved(),
		appDecryptUnmatched(),
	}
}

// Lookup finds a shipped rule by id.
func Lookup(id string) (Rule, bool) {
	for _, r := range Default() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// WithFiring returns the rule with its firing replaced, as stack config overrides thresholds.
// An EventBridge or Offline rule stays immediate. A zero DatapointsToAlarm in f keeps the rule's own M
// (at most f's EvaluationPeriods), so that a caller who sets only period, periods and threshold
// keeps the rule's tolerance for late data rather than turning it into "all N periods".
func (r Rule) WithFiring(f Firing) Rule {
	if r.Source == EventBridge || r.Source == Offline {
		f = Firing{Immediate: true}
	}
	if f.DatapointsToAlarm == 0 && !f.Immediate {
		f.DatapointsToAlarm = min(r.Firing.Datapoints(), f.EvaluationPeriods)
	}
	r.Firing = f
	return r
}
