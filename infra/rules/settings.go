package rules

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Every log rule's firing is a stack setting: four keys named after the rule, its id in lower
// camel case and the field (app-decrypt-volume -> appDecryptVolumeThreshold). The stack reads them
// (infra/config.go), and `kmswatch rules|replay|tune --stack-config` read the same keys from a
// stack file, so that replay judges with what is deployed.
const (
	SettingThreshold         = "Threshold"         // Sum per period that breaches
	SettingPeriodSeconds     = "PeriodSeconds"     // a multiple of 60
	SettingEvaluationPeriods = "EvaluationPeriods" // N
	SettingDatapointsToAlarm = "DatapointsToAlarm" // M
)

// SettingFields are the four, in the order they are documented.
var SettingFields = []string{SettingThreshold, SettingPeriodSeconds, SettingEvaluationPeriods, SettingDatapointsToAlarm}

// SettingAnomalyBand is the fifth setting of an adaptive rule (Rule.Adaptive): the width of the
// anomaly-detection band in standard deviations, the second argument of ANOMALY_DETECTION_BAND;
// 0, the default, keeps the fixed threshold. A decimal is allowed ("1.5").
const SettingAnomalyBand = "AnomalyBand"

// SettingName is the stack setting for one field of a rule's firing.
func SettingName(ruleID, field string) string {
	var b strings.Builder
	for i, part := range strings.Split(ruleID, "-") {
		if i > 0 && part != "" {
			part = strings.ToUpper(part[:1]) + part[1:]
		}
		b.WriteString(part)
	}
	return b.String() + field
}

// Tunable reports whether a rule's firing is a setting: rules with an alarm are; rules that fire
// at once, per event, are not.
func (r Rule) Tunable() bool { return !r.Firing.Immediate }

// SettingValue is a field's value in a firing, as the setting spells it.
func SettingValue(f Firing, field string) int {
	switch field {
	case SettingThreshold:
		return int(f.Threshold)
	case SettingPeriodSeconds:
		return int(f.Period / time.Second)
	case SettingEvaluationPeriods:
		return f.EvaluationPeriods
	case SettingDatapointsToAlarm:
		return f.Datapoints()
	}
	panic("rules: unknown setting field " + field)
}

// ApplySettings returns the rules with each tunable rule's firing read from lookup (a missing key
// keeps the rule's own value), or every invalid setting at once, each error naming its key and
// what CloudWatch accepts.
func ApplySettings(rs []Rule, lookup func(key string) (string, bool)) ([]Rule, error) {
	var errs []error
	out := make([]Rule, len(rs))
	for i, r := range rs {
		out[i] = r
		if !r.Tunable() {
			continue
		}
		f, ruleErrs := readFiring(r, lookup)
		errs = append(errs, ruleErrs...)
		if len(ruleErrs) == 0 {
			out[i] = r.WithFiring(f)
		}
	}
	return out, errors.Join(errs...)
}

func readFiring(r Rule, lookup func(string) (string, bool)) (Firing, []error) {
	var errs []error
	values := map[string]int{}
	for _, field := range SettingFields {
		key := SettingName(r.ID, field)
		values[field] = SettingValue(r.Firing, field)
		raw, ok := lookup(key)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want a whole number", key, raw))
			continue
		}
		values[field] = n
	}
	if len(errs) > 0 {
		return Firing{}, errs
	}
	name := func(field string) string { return SettingName(r.ID, field) }
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	period, n, m, threshold := values[SettingPeriodSeconds], values[SettingEvaluationPeriods], values[SettingDatapointsToAlarm], values[SettingThreshold]
	// Metric filters publish standard-resolution metrics: periods are whole minutes, and period x
	// evaluation periods may not exceed one day.
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
	if period < 60 || period%60 != 0 {
		bad("%s %d: CloudWatch accepts a multiple of 60 (60, 120, 300, ...) for metrics from metric filters", name(SettingPeriodSeconds), period)
	}
	switch {
	case n < 1:
		bad("%s %d: must be at least 1", name(SettingEvaluationPeriods), n)
	case period >= 60 && period*n > int(maxAlarmWindow/time.Second):
		bad("%s x %s = %d s: CloudWatch allows at most 86400 (one day)", name(SettingPeriodSeconds), name(SettingEvaluationPeriods), period*n)
	}
	if m < 1 || (n >= 1 && m > n) {
		bad("%s %d: must lie between 1 and %s (%d)", name(SettingDatapointsToAlarm), m, name(SettingEvaluationPeriods), n)
	}
	if threshold < 1 {
		bad("%s %d: must be at least 1 (events per period)", name(SettingThreshold), threshold)
	}
	f := Firing{Period: time.Duration(period) * time.Second, EvaluationPeriods: n, DatapointsToAlarm: m, Threshold: float64(threshold)}
	if r.Adaptive() {
		band, err := readAnomalyBand(r, lookup)
		if err != nil {
			errs = append(errs, err)
		}
		f.AnomalyBand = band
	}
	return f, errs
}

// readAnomalyBand reads an adaptive rule's band setting; a missing key keeps the rule's own.
// CloudWatch trains the band's model on "up to two weeks of metric data, but you can enable
// anomaly detection on a metric even if the metric does not have a full two weeks of data", so a
// new stack keeps the fixed threshold (0) until that history exists.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Anomaly_Detection.html
func readAnomalyBand(r Rule, lookup func(string) (string, bool)) (float64, error) {
	key := SettingName(r.ID, SettingAnomalyBand)
	raw, ok := lookup(key)
	if !ok {
		return r.Firing.AnomalyBand, nil
	}
	band, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || band < 0 || math.IsInf(band, 0) || math.IsNaN(band) {
		return 0, fmt.Errorf("%s %q: want a number of standard deviations above 0 (2 in AWS's examples), or 0 for the fixed threshold", key, raw)
	}
	return band, nil
}
