package main

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// deployedParams are the rule parameters the real resources give: the role's ARN and the keys'.
func deployedParams(run *stackRun) rules.Params {
	return rules.Params{
		TaskRoleARN: run.named("aws:iam/role:Role", "identity-task-role").outStr("arn"),
		AppKeyARN:   run.named("aws:kms/key:Key", "keys-app").outStr("arn"),
		KeyARNs: []string{
			run.named("aws:kms/key:Key", "keys-app").outStr("arn"),
			run.named("aws:kms/key:Key", "keys-audit").outStr("arn"),
		},
		// DeleteAlias and UpdateAlias name the alias, not the key: the scope must know both.
		KeyAliases: []string{"alias/kmswatch-dev-app", "alias/kmswatch-dev-audit"},
		// The stack's own namespace, not another stack's in the same account.
		MetricNamespace: "kmswatch/kmswatch-dev",
	}
}

// Every deployed metric filter, alarm and EventBridge rule must be exactly what the rule set
// renders with the stack's thresholds, and nothing else may be deployed.
func TestAlertsDeployExactlyWhatTheRuleSetRenders(t *testing.T) {
	settings := map[string]string{
		"appKmsErrorsPeriodSeconds": "300", "appKmsErrorsEvaluationPeriods": "2", "appKmsErrorsThreshold": "4",
		"appDecryptVolumeThreshold": "250", "appDecryptDeniedDatapointsToAlarm": "2",
		"appKeyDecryptRateAnomalyBand": "2.5", "appDecryptUnservedThreshold": "8",
		"containOnRules": `["app-decrypt-volume","app-decrypt-unserved"]`, "response": "contain",
	}
	run := mustRun(t, withSettings(settings))
	cfg, err := parseConfig(lookupFrom(withSettings(settings)))
	if err != nil {
		t.Fatal(err)
	}
	params := deployedParams(run)
	topicARN := run.one("aws:sns/topic:Topic").outStr("arn")
	logGroupFor := map[rules.Source]string{
		rules.TrailLogs: run.named("aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs").outStr("name"),
		rules.AppLogs:   run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs").outStr("name"),
	}

	var wantFilters, wantAlarms, wantEvents int
	for _, r := range cfg.Rules() {
		if r.Source == rules.Metrics || r.Source == rules.TrailLogs || r.Source == rules.AppLogs {
			// The description the alarm emails carry is the one rehearse renders (rules.AlarmEmail).
			alarm := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-"+r.ID)
			if got, want := alarm.str("alarmDescription"), rules.AlarmDescription(r); got != want {
				t.Errorf("%s: alarm description\n  %s\nwant\n  %s", r.ID, got, want)
			}
		}
		if r.Source == rules.Metrics {
			wantFilters += len(r.PublishedMetrics(params))
			wantAlarms++
			checkMetricsRuleDeployed(t, run, cfg, r, params)
		}
		if r.Source == rules.TrailLogs || r.Source == rules.AppLogs {
			wantFilters++
			wantAlarms++
			filter := run.named("aws:cloudwatch/logMetricFilter:LogMetricFilter", "alerts-filter-"+r.ID)
			if got, want := filter.str("pattern"), r.FilterPattern(params); got != want {
				t.Errorf("%s: filter pattern\n  %s\nwant\n  %s", r.ID, got, want)
			}
			if filter.str("logGroupName") != logGroupFor[r.Source] {
				t.Errorf("%s: filter on %q, want %q", r.ID, filter.str("logGroupName"), logGroupFor[r.Source])
			}
			mt := r.MetricTransformation(params)
			wantMT := map[string]any{"name": mt.Name, "namespace": mt.Namespace, "value": mt.Value}
			if mt.DefaultValue != nil {
				wantMT["defaultValue"] = strconv.FormatFloat(*mt.DefaultValue, 'f', -1, 64)
			}
			if got := filter.in("metricTransformation"); !reflect.DeepEqual(got, wantMT) {
				t.Errorf("%s: metric transformation %v, want %v", r.ID, got, wantMT)
			}

			alarm := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-"+r.ID)
			spec := r.Alarm(params)
			got := rules.AlarmSpec{
				MetricName: alarm.str("metricName"), Namespace: alarm.str("namespace"), Statistic: alarm.str("statistic"),
				PeriodSeconds: int(alarm.num("period")), EvaluationPeriods: int(alarm.num("evaluationPeriods")),
				DatapointsToAlarm: int(alarm.num("datapointsToAlarm")),
				Threshold:         alarm.num("threshold"), ComparisonOperator: alarm.str("comparisonOperator"),
				TreatMissingData: alarm.str("treatMissingData"),
			}
			if got != spec {
				t.Errorf("%s: alarm\n  %+v\nwant\n  %+v", r.ID, got, spec)
			}
			if spec.MetricName != mt.Name || spec.Namespace != mt.Namespace {
				t.Errorf("%s: the alarm watches %s/%s but the filter publishes %s/%s", r.ID, spec.Namespace, spec.MetricName, mt.Namespace, mt.Name)
			}
			if got := alarm.strings("okActions"); !slices.Equal(got, []string{topicARN}) {
				t.Errorf("%s: okActions %v, want the alert topic", r.ID, got)
			}
			wantActions := []string{topicARN} // and the responder, for an alarm that contains (response_test.go)
			if slices.Contains(cfg.ContainOnRules, r.ID) {
				wantActions = append(wantActions, run.one("aws:lambda/function:Function").outStr("arn"))
			}
			if got := alarm.strings("alarmActions"); !slices.Equal(got, wantActions) {
				t.Errorf("%s: alarmActions %v, want %v", r.ID, got, wantActions)
			}
			if !alarm.dependsOn(filter) {
				t.Errorf("%s: alarm created before its metric filter", r.ID)
			}
		}
		if pattern, ok := r.EventPattern(params); ok {
			wantEvents++
			rule := run.named("aws:cloudwatch/eventRule:EventRule", "alerts-event-"+r.ID)
			if got := rule.str("eventPattern"); got != pattern {
				t.Errorf("%s: event pattern\n  %s\nwant\n  %s", r.ID, got, pattern)
			}
			target := run.named("aws:cloudwatch/eventTarget:EventTarget", "alerts-event-target-"+r.ID)
			n := r.Notification()
			paths := map[string]any{}
			for k, v := range n.InputPaths {
				paths[k] = v
			}
			if target.str("rule") != rule.outStr("name") || target.str("arn") != topicARN ||
				target.str("inputTransformer", "inputTemplate") != n.InputTemplate ||
				!reflect.DeepEqual(target.in("inputTransformer", "inputPaths"), paths) {
				t.Errorf("%s: event target %v, want the rule's notification to the topic", r.ID, target.Inputs)
			}
		}
	}
	if got := len(run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter")); got != wantFilters {
		t.Errorf("%d metric filters deployed, the rule set has %d", got, wantFilters)
	}
	if got := len(run.all("aws:cloudwatch/metricAlarm:MetricAlarm")); got != wantAlarms {
		t.Errorf("%d alarms deployed, the rule set has %d", got, wantAlarms)
	}
	if got := len(run.all("aws:cloudwatch/eventRule:EventRule")); got != wantEvents || wantEvents == 0 {
		t.Errorf("%d EventBridge rules deployed, the rule set has %d", got, wantEvents)
	}
}

// The lab's filter must name the task role the stack created, not a placeholder or an account
// typed into the code, and the alarm must watch that filter's metric.
func TestLabFilterNamesTheRealTaskRole(t *testing.T) {
	run := mustRun(t, baseConfig())
	roleARN := run.named("aws:iam/role:Role", "identity-task-role").outStr("arn")
	filter := run.named("aws:cloudwatch/logMetricFilter:LogMetricFilter", "alerts-filter-app-kms-errors")
	pattern := filter.str("pattern")
	if !strings.Contains(pattern, `"`+roleARN+`"`) {
		t.Errorf("pattern %s does not name the task role %s", pattern, roleARN)
	}
	if strings.Contains(pattern, rules.RoleARNPlaceholder) || strings.Contains(pattern, "111122223333") {
		t.Errorf("pattern %s holds a placeholder or the samples' account", pattern)
	}
	alarm := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-kms-errors")
	if alarm.str("metricName") != filter.str("metricTransformation", "name") || alarm.str("namespace") != filter.str("metricTransformation", "namespace") {
		t.Errorf("alarm watches %s/%s, filter publishes %s/%s", alarm.str("namespace"), alarm.str("metricName"),
			filter.str("metricTransformation", "namespace"), filter.str("metricTransformation", "name"))
	}
	labRule, _ := rules.Lookup("app-kms-errors")
	lab := labRule.Firing
	if alarm.num("threshold") != lab.Threshold || alarm.num("period") != lab.Period.Seconds() {
		t.Errorf("lab alarm threshold %v per %v s, want the rule's %v per %v", alarm.num("threshold"), alarm.num("period"), lab.Threshold, lab.Period)
	}
}

func TestAlertTopicIsEncryptedAndOnlyTheStacksAlarmsAndRulesPublish(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"alertEmail": "oncall@acme-corp.io"}))
	topic := run.one("aws:sns/topic:Topic")
	policyRes := run.one("aws:sns/topicPolicy:TopicPolicy")
	if policyRes.str("arn") != topic.outStr("arn") {
		t.Fatal("topic policy on another topic")
	}
	policy := policyRes.policy(t, "policy")
	var alarmARNs, ruleARNs []string
	for _, a := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		alarmARNs = append(alarmARNs, a.outStr("arn"))
	}
	for _, r := range run.all("aws:cloudwatch/eventRule:EventRule") {
		ruleARNs = append(ruleARNs, r.outStr("arn"))
	}
	// https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html (aws:SourceArn, aws:SourceAccount)
	for sid, want := range map[string]struct {
		service string
		sources []string
	}{
		"AlarmsPublish":     {"cloudwatch.amazonaws.com", alarmARNs},
		"EventRulesPublish": {"events.amazonaws.com", ruleARNs},
	} {
		s := statementBySid(t, policy, sid)
		got := slices.Clone([]string(s.Condition["ArnEquals"]["aws:SourceArn"]))
		slices.Sort(got)
		slices.Sort(want.sources)
		if !reflect.DeepEqual(s.Principal.Service, stringList{want.service}) || !reflect.DeepEqual(s.Action, stringList{"sns:Publish"}) ||
			!reflect.DeepEqual(s.Resource, stringList{topic.outStr("arn")}) || !slices.Equal(got, want.sources) ||
			!reflect.DeepEqual(s.Condition["StringEquals"]["aws:SourceAccount"], stringList{mockAccount}) {
			t.Errorf("%s: %+v, want %s to publish from %v", sid, s, want.service, want.sources)
		}
	}
	sub := run.one("aws:sns/topicSubscription:TopicSubscription")
	if sub.str("protocol") != "email" || sub.str("endpoint") != "oncall@acme-corp.io" || sub.str("topic") != topic.outStr("arn") {
		t.Errorf("subscription %v, want email to oncall@acme-corp.io", sub.Inputs)
	}
}

// With the default settings every deployed alarm fires on one breaching period among enough
// periods back to see a burst that reaches CloudWatch Logs 15 minutes late (the lab's figure).
// The evaluation behind it is tested in rules (TestLogRulesFireOnLateBursts).
func TestDeployedAlarmsTolerateLateTrailDelivery(t *testing.T) {
	run := mustRun(t, baseConfig())
	var alarms []*recorded
	for _, r := range rules.Default() {
		if isLogRule(r) {
			alarms = append(alarms, run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-"+r.ID))
		}
	}
	if len(alarms) == 0 {
		t.Fatal("no alarms deployed")
	}
	for _, a := range alarms {
		m, n, period := int(a.num("datapointsToAlarm")), int(a.num("evaluationPeriods")), time.Duration(a.num("period"))*time.Second
		if m != 1 || time.Duration(n-m)*period < 15*time.Minute || a.str("treatMissingData") != "notBreaching" {
			t.Errorf("%s: %d of %d periods of %s, missing data %s: want 1 of enough periods to look 15m back, notBreaching",
				a.str("name"), m, n, period, a.str("treatMissingData"))
		}
	}
}
