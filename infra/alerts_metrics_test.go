package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// wantQueries are a rule's Metrics array as the mock engine records the alarm's metricQueries.
func wantQueries(qs []rules.MetricQuery) []any {
	out := make([]any, len(qs))
	for i, q := range qs {
		m := map[string]any{"id": q.ID, "returnData": q.ReturnData}
		if q.Label != "" {
			m["label"] = q.Label
		}
		if q.Expression != "" {
			m["expression"] = q.Expression
		}
		if q.Metric != nil {
			dims := map[string]any{}
			for _, d := range q.Metric.Dimensions {
				dims[d.Name] = d.Value
			}
			m["metric"] = map[string]any{"namespace": q.Metric.Namespace, "metricName": q.Metric.MetricName,
				"period": float64(q.Metric.PeriodSeconds), "stat": q.Metric.Stat, "dimensions": dims}
		}
		out[i] = m
	}
	return out
}

// checkMetricsRuleDeployed: a Metrics rule's alarm reads exactly the rule's Metrics array with the
// stack's app key, names no metric of its own, and depends on the metric filters that publish the
// app's counts it reads, each on the log group and with the pattern the rule renders.
func checkMetricsRuleDeployed(t *testing.T, run *stackRun, cfg Config, r rules.Rule, params rules.Params) {
	t.Helper()
	alarm := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-"+r.ID)
	spec := r.Alarm(params)
	if got, want := alarm.in("metricQueries"), wantQueries(r.MetricQueries(params)); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: metric queries\n  %v\nwant\n  %v", r.ID, got, want)
	}
	for _, forbidden := range []string{"namespace", "metricName", "statistic", "period"} {
		if alarm.in(forbidden) != nil {
			t.Errorf("%s: an alarm on a Metrics array also sets %s (PutMetricAlarm refuses both)", r.ID, forbidden)
		}
	}
	if int(alarm.num("evaluationPeriods")) != spec.EvaluationPeriods || int(alarm.num("datapointsToAlarm")) != spec.DatapointsToAlarm ||
		alarm.str("comparisonOperator") != spec.ComparisonOperator || alarm.str("treatMissingData") != spec.TreatMissingData ||
		alarm.str("thresholdMetricId") != spec.ThresholdMetricID {
		t.Errorf("%s: alarm %v, want %+v", r.ID, alarm.Inputs, spec)
	}
	if spec.ThresholdMetricID == "" && alarm.num("threshold") != spec.Threshold {
		t.Errorf("%s: threshold %v, want %v", r.ID, alarm.num("threshold"), spec.Threshold)
	}
	if spec.ThresholdMetricID != "" && alarm.in("threshold") != nil {
		t.Errorf("%s: an anomaly band alarm with a threshold too", r.ID)
	}
	logGroups := map[rules.Source]string{
		rules.TrailLogs: run.named("aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs").outStr("name"),
		rules.AppLogs:   run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs").outStr("name"),
	}
	for _, pm := range r.PublishedMetrics(params) {
		filter := run.named("aws:cloudwatch/logMetricFilter:LogMetricFilter", "alerts-filter-"+r.ID+"-"+pm.Name)
		if filter.str("pattern") != pm.Pattern || filter.str("logGroupName") != logGroups[pm.Source] ||
			filter.str("metricTransformation", "name") != pm.Transform.Name || filter.str("metricTransformation", "namespace") != pm.Transform.Namespace ||
			filter.str("metricTransformation", "value") != pm.Transform.Value || filter.str("metricTransformation", "defaultValue") != "0" {
			t.Errorf("%s: filter %s %v, want %+v", r.ID, pm.Name, filter.Inputs, pm)
		}
		if !alarm.dependsOn(filter) {
			t.Errorf("%s: alarm created before the filter that publishes its %s count", r.ID, pm.Name)
		}
	}
	wantActions := []string{run.one("aws:sns/topic:Topic").outStr("arn")}
	if slices.Contains(cfg.ContainOnRules, r.ID) {
		wantActions = append(wantActions, run.one("aws:lambda/function:Function").outStr("arn"))
	}
	if got := alarm.strings("alarmActions"); !slices.Equal(got, wantActions) {
		t.Errorf("%s: alarmActions %v, want %v", r.ID, got, wantActions)
	}
}

// The fast alarms read the stack's own app key, never a placeholder, and the served count they
// subtract comes from the stack's app log group.
func TestFastAlarmsReadTheStacksAppKey(t *testing.T) {
	run := mustRun(t, baseConfig())
	appKey := run.named("aws:kms/key:Key", "keys-app").outStr("arn")
	for _, id := range []string{"app-key-decrypt-rate", "app-decrypt-unserved"} {
		alarm := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-"+id)
		if got := alarm.str("metricQueries", 0, "metric", "dimensions", "KeyArn"); got != appKey {
			t.Errorf("%s: KeyArn %q, want the app key %s", id, got, appKey)
		}
		if alarm.str("metricQueries", 0, "metric", "namespace") != "AWS/KMS" || alarm.str("metricQueries", 0, "metric", "metricName") != "SuccessfulRequest" ||
			alarm.str("metricQueries", 0, "metric", "dimensions", "Operation") != "Decrypt" {
			t.Errorf("%s: reads %v, want AWS/KMS SuccessfulRequest for Decrypt", id, alarm.in("metricQueries", 0))
		}
		if strings.Contains(alarm.str("alarmDescription"), rules.AppKeyPlaceholder) {
			t.Errorf("%s: description holds the placeholder", id)
		}
	}
	served := run.named("aws:cloudwatch/logMetricFilter:LogMetricFilter", "alerts-filter-app-decrypt-unserved-served")
	if served.str("logGroupName") != run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs").outStr("name") ||
		served.str("name") != "kmswatch-dev-app-decrypt-unserved-served" {
		t.Errorf("served filter %v", served.Inputs)
	}
	unserved := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-unserved")
	if got := unserved.str("metricQueries", 2, "expression"); got != "kms - served" || !unserved.boolean("metricQueries", 2, "returnData") ||
		unserved.boolean("metricQueries", 0, "returnData") || unserved.boolean("metricQueries", 1, "returnData") {
		t.Errorf("unserved alarm queries %v: want kms - served returning, its inputs not", unserved.in("metricQueries"))
	}
	// Offline rules are replayed, not deployed.
	for _, a := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		if strings.HasSuffix(a.str("name"), "app-decrypt-unmatched") {
			t.Errorf("the offline join is deployed as %s", a.str("name"))
		}
	}
}

// An adaptive rule's anomaly band replaces its threshold in the deployed alarm; the band's
// training needs no resource of its own (the alarm's ANOMALY_DETECTION_BAND creates the model).
func TestAnomalyBandSettingDeploysABandAlarm(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"appDecryptVolumeAnomalyBand": "3"}))
	alarm := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-volume")
	if alarm.str("comparisonOperator") != "GreaterThanUpperThreshold" || alarm.str("thresholdMetricId") != "band" ||
		alarm.str("metricQueries", 1, "expression") != "ANOMALY_DETECTION_BAND(events, 3)" ||
		alarm.str("metricQueries", 0, "metric", "metricName") != "AppDecryptVolume" || alarm.in("threshold") != nil || alarm.in("metricName") != nil {
		t.Errorf("band alarm %v", alarm.Inputs)
	}
	plain := mustRun(t, baseConfig()).named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-volume")
	if plain.str("comparisonOperator") != "GreaterThanOrEqualToThreshold" || plain.in("metricQueries") != nil || plain.num("threshold") != 1000 {
		t.Errorf("by default the fixed threshold: %v", plain.Inputs)
	}
}
