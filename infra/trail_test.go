package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// cisKeyDisableFilter is the metric filter CIS AWS Foundations Benchmark 4.7 (v1.4.0; 3.7 in
// v1.2.0) prescribes, character for character; Security Hub's CloudWatch.7 fails "if the exact
// metric filters prescribed by CIS are not used. Additional fields or terms cannot be added".
const cisKeyDisableFilter = `{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}`

// TestDefaultStackPassesSecurityHubCloudWatch7 checks, under mocks, every condition Security
// Hub's CloudWatch.7 evaluates, as its documentation lists them (the CIS 4.7 audit steps):
//  1. a multi-Region trail owned by the account, in the current Region, that is logging, with an
//     event selector for management events, read and write, not excluding kms.amazonaws.com, and
//     delivering to a CloudWatch Logs group;
//  2. on that group, a metric filter with exactly the CIS pattern;
//  3. an alarm on that filter's metric, with an action on ALARM;
//  4. which notifies an SNS topic of the account that has at least one subscriber.
//
// https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-7
// https://docs.aws.amazon.com/securityhub/latest/userguide/cloudtrail-controls.html#cloudtrail-1
// What mocks cannot show: the subscriber must confirm (a PendingConfirmation subscription has no
// SubscriptionArn yet), and Security Hub must be enabled with the CIS standard in this Region.
func TestDefaultStackPassesSecurityHubCloudWatch7(t *testing.T) {
	run := mustRun(t, baseConfig())

	trail := run.one("aws:cloudtrail/trail:Trail")
	if !trail.boolean("isMultiRegionTrail") {
		t.Error("1. the trail is single-Region; CloudWatch.7 needs a multi-Region trail")
	}
	if !trail.boolean("enableLogging") {
		t.Error("1. the trail is not set to log")
	}
	if !trail.boolean("includeGlobalServiceEvents") {
		t.Error("1. the trail leaves out global service events (CloudTrail.1 needs them with a multi-Region trail)")
	}
	selectors, _ := trail.in("eventSelectors").([]any)
	ok := false
	for i := range selectors {
		if get(selectors, i, "includeManagementEvents") == true && get(selectors, i, "readWriteType") == "All" &&
			!slices.Contains(trail.strings("eventSelectors", i, "excludeManagementEventSources"), "kms.amazonaws.com") {
			ok = true
		}
	}
	if !ok {
		t.Errorf("1. no event selector records all management events, read and write, with KMS: %v", selectors)
	}
	logGroup := run.named("aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs")
	if got, want := trail.str("cloudWatchLogsGroupArn"), logGroup.outStr("arn")+":*"; got != want {
		t.Fatalf("1. the trail delivers to %q, want its log group %q", got, want)
	}

	var filter *recorded
	for _, f := range run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter") {
		if f.str("pattern") == cisKeyDisableFilter && f.str("logGroupName") == logGroup.str("name") {
			filter = f
		}
	}
	if filter == nil {
		t.Fatalf("2. no metric filter with the exact CIS pattern on %s", logGroup.str("name"))
	}

	metric := filter.str("metricTransformation", "name")
	namespace := filter.str("metricTransformation", "namespace")
	var alarm *recorded
	for _, a := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		if a.str("metricName") == metric && a.str("namespace") == namespace {
			alarm = a
		}
	}
	if alarm == nil {
		t.Fatalf("3. no alarm on %s/%s", namespace, metric)
	}
	if alarm.in("actionsEnabled") == false {
		t.Error("3. the alarm's actions are disabled")
	}

	topic := run.one("aws:sns/topic:Topic")
	actions, _ := alarm.in("alarmActions").([]any)
	if len(actions) == 0 || actions[0] != topic.outStr("arn") {
		t.Fatalf("4. the alarm's ALARM actions %v, want the stack's topic %s", actions, topic.outStr("arn"))
	}
	subscribed := false
	for _, s := range run.all("aws:sns/topicSubscription:TopicSubscription") {
		if s.str("topic") == topic.outStr("arn") && s.str("endpoint") != "" {
			subscribed = true
		}
	}
	if !subscribed {
		t.Error("4. the topic has no subscriber")
	}
	// The CIS rule keeps its published spelling, so the check and the rule set agree.
	r, _ := rules.Lookup("kms-key-disable-or-delete")
	if r.FilterPattern(rules.Params{}) != cisKeyDisableFilter {
		t.Errorf("the rule set's CIS pattern drifted from the benchmark's: %s", r.FilterPattern(rules.Params{}))
	}
}

func TestBroughtTrailDeploysTheRulesOnItsLogGroupAndCreatesNoTrail(t *testing.T) {
	const group, bucket = "aws-controltower/CloudTrailLogs", "aws-controltower-logs-123456789012-eu-west-1"
	run := mustRun(t, withSettings(map[string]string{"trailLogGroupName": group, "trailBucketName": bucket}))

	for _, typ := range []string{"aws:cloudtrail/trail:Trail", "aws:s3/bucketV2:BucketV2", "aws:s3/bucketPolicy:BucketPolicy"} {
		for _, r := range run.all(typ) {
			if strings.HasPrefix(r.Name, "audit-") {
				t.Errorf("%s %s created with a brought trail, want none of the trail's own", typ, r.Name)
			}
		}
	}
	// Hunting reads the brought trail's bucket.
	if got := run.one("aws:glue/catalogTable:CatalogTable").str("parameters", "storage.location.template"); !strings.HasPrefix(got, "s3://"+bucket+"/AWSLogs/") {
		t.Errorf("the Athena table reads %q, want the brought trail's bucket %s", got, bucket)
	}
	for _, lg := range run.all("aws:cloudwatch/logGroup:LogGroup") {
		if lg.str("name") != "/kmswatch-dev/app" && lg.str("name") != "/aws/lambda/kmswatch-dev-responder" {
			t.Errorf("log group %s created with a brought trail; want only the app's and the responder's", lg.str("name"))
		}
	}
	for _, r := range run.all("aws:iam/role:Role") {
		if strings.Contains(r.str("assumeRolePolicy"), "cloudtrail.amazonaws.com") {
			t.Errorf("role %s for CloudTrail delivery created with a brought trail", r.Name)
		}
	}
	if args := run.calls["aws:cloudwatch/getLogGroup:getLogGroup"].Mappable(); get(args, "name") != group {
		t.Errorf("the brought log group was not looked up: %v", args)
	}

	// Every trail rule's filter sits on the brought group, every log rule still has its alarm.
	filters := map[string]string{} // filter name -> log group
	for _, f := range run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter") {
		filters[f.str("name")] = f.str("logGroupName")
	}
	alarms := map[string]bool{}
	for _, a := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		alarms[a.str("name")] = true
	}
	for _, r := range rules.Default() {
		name := r.AlarmName("kmswatch-dev")
		switch r.Source {
		case rules.TrailLogs:
			if filters[name] != group {
				t.Errorf("rule %s: filter on %q, want the brought group %q", r.ID, filters[name], group)
			}
		case rules.AppLogs:
			if filters[name] != "/kmswatch-dev/app" {
				t.Errorf("rule %s: filter on %q, want the app's group", r.ID, filters[name])
			}
		default:
			continue
		}
		if !alarms[name] {
			t.Errorf("rule %s: no alarm %s", r.ID, name)
		}
	}

	// The audit key no longer serves a trail, and encrypts the app's log group and the topic only.
	policy := run.named("aws:kms/key:Key", "keys-audit").policy(t, "policy")
	for _, s := range policy.Statement {
		if s.Principal != nil && slices.Contains(s.Principal.Service, "cloudtrail.amazonaws.com") {
			t.Errorf("audit key statement %s still lets CloudTrail use the key", s.Sid)
		}
		if s.Sid == "CloudWatchLogsEncryptsLogGroups" {
			logGroup := "arn:aws:logs:" + mockRegion + ":" + mockAccount + ":log-group:"
			if got := []string(s.Condition["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]); !slices.Equal(got, []string{logGroup + "/kmswatch-dev/app", logGroup + "/aws/lambda/kmswatch-dev-responder"}) {
				t.Errorf("audit key encrypts log groups %v, want the app's and the responder's only", got)
			}
		}
	}
	if run.outputs["trailLogGroup"] != group || run.outputs["trailBucket"] != bucket {
		t.Errorf("outputs trailLogGroup=%v trailBucket=%v, want the brought trail's", run.outputs["trailLogGroup"], run.outputs["trailBucket"])
	}
	if _, ok := run.outputs["trailName"]; ok {
		t.Error("output trailName with a brought trail: the stack has no trail of its own")
	}
}

func TestBroughtTrailWithoutItsLogGroupFailsBeforeTheAlarms(t *testing.T) {
	run := runStack(t, "dev", withSettings(map[string]string{"trailLogGroupName": mockMissingLogGroup, "trailBucketName": "org-trail-logs"}))
	if run.err == nil || !strings.Contains(run.err.Error(), `trailLogGroupName "`+mockMissingLogGroup+`": no such log group`) {
		t.Fatalf("want the missing group named, got %v", run.err)
	}
	if n := len(run.all("aws:cloudwatch/metricAlarm:MetricAlarm")); n != 0 {
		t.Errorf("%d alarms registered on a group that does not exist", n)
	}
}
