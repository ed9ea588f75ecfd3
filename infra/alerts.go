package main

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AlertsArgs: the rules to deploy, the values they refer to, and where their events arrive.
type AlertsArgs struct {
	Env               awsEnv
	Names             stackNames
	Rules             []rules.Rule // rules.Default() with the stack's thresholds
	TaskRoleARN       pulumi.StringInput
	AppKeyARN         pulumi.StringInput      // the key whose AWS/KMS per-key metrics the Metrics rules read
	KeyARNs           pulumi.StringArrayInput // the stack's keys, for rules about key changes
	TrailLogGroupName pulumi.StringInput
	AppLogGroupName   pulumi.StringInput
	AuditKeyARN       pulumi.StringInput
	AlertEmail        string
	Responder         *Response // its function is also an action of the containing alarms and a target of the key-deletion rule
}

// Alerts deploys each detection rule: a metric filter and an alarm for log-based rules, an alarm
// on metrics CloudWatch already has for Metrics rules (with the metric filters that publish the
// app's counts they read), an EventBridge rule for rules that notify at once; all of them notify
// the encrypted alert topic. Offline rules are replayed, not deployed.
type Alerts struct {
	pulumi.ResourceState

	TopicARN   pulumi.StringOutput
	AlarmNames pulumi.StringArrayOutput
}

func newAlerts(ctx *pulumi.Context, name string, args AlertsArgs, opts ...pulumi.ResourceOption) (*Alerts, error) {
	a := &Alerts{}
	if err := ctx.RegisterComponentResource("kmswatch:alerts:Alerts", name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	env, names := args.Env, args.Names
	if err := rules.ValidateMetricNamespace(names.MetricNamespace()); err != nil {
		return nil, err
	}

	topic, err := sns.NewTopic(ctx, name+"-topic", &sns.TopicArgs{
		Name:           pulumi.String(names.AlertTopic()),
		DisplayName:    pulumi.String("kmswatch alerts"),
		KmsMasterKeyId: args.AuditKeyARN,
	}, parent)
	if err != nil {
		return nil, err
	}
	var alarmARNs, eventRuleARNs []string
	for _, r := range args.Rules {
		if hasAlarm(r) {
			alarmARNs = append(alarmARNs, env.alarmARN(names.Alarm(r)))
		}
		if notifiesAtOnce(r) {
			eventRuleARNs = append(eventRuleARNs, env.eventRuleARN(names.EventRule(r.ID)))
		}
	}
	if _, err := sns.NewTopicPolicy(ctx, name+"-topic-policy", &sns.TopicPolicyArgs{
		Arn: topic.Arn,
		Policy: topic.Arn.ApplyT(func(topicARN string) string {
			return alertTopicPolicy(env, topicARN, alarmARNs, eventRuleARNs).JSON()
		}).(pulumi.StringOutput),
	}, parent); err != nil {
		return nil, err
	}
	if _, err := sns.NewTopicSubscription(ctx, name+"-email", &sns.TopicSubscriptionArgs{
		Topic:    topic.Arn,
		Protocol: pulumi.String("email"), // AWS mails a confirmation link; nothing arrives until it is clicked
		Endpoint: pulumi.String(args.AlertEmail),
	}, parent); err != nil {
		return nil, err
	}

	// The rules' values come from resources: the role's real ARN, never a guessed account.
	params := pulumi.All(args.TaskRoleARN, args.AppKeyARN, args.KeyARNs).ApplyT(func(v []any) rules.Params {
		return stackParams(v[0].(string), v[1].(string), v[2].([]string), names)
	}).(pulumi.AnyOutput)
	var alarmNames pulumi.StringArray
	for _, r := range args.Rules {
		if hasAlarm(r) {
			alarm, err := newRuleAlarm(ctx, name, r, params, args, topic.Arn, parent)
			if err != nil {
				return nil, err
			}
			alarmNames = append(alarmNames, alarm.Name)
		}
		if notifiesAtOnce(r) {
			if err := newRuleEvent(ctx, name, r, params, names, topic.Arn, args.Responder, parent); err != nil {
				return nil, err
			}
		}
	}

	a.TopicARN = topic.Arn
	a.AlarmNames = alarmNames.ToStringArrayOutput()
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{
		"topicArn":   a.TopicARN,
		"alarmNames": a.AlarmNames,
	})
}

func isLogRule(r rules.Rule) bool { return r.Source == rules.TrailLogs || r.Source == rules.AppLogs }

// hasAlarm: the rule is deployed as a CloudWatch alarm (on its own metric filter's metric, or on
// metrics CloudWatch already holds).
func hasAlarm(r rules.Rule) bool { return isLogRule(r) || r.Source == rules.Metrics }

func notifiesAtOnce(r rules.Rule) bool {
	_, ok := r.EventPattern(rules.Params{})
	return ok
}

// newRuleAlarm deploys a rule's alarm: for a log rule, the metric filter on its log group and the
// alarm on its metric; for a Metrics rule, the metric filters that publish the app's counts it
// reads and the alarm on its Metrics array.
func newRuleAlarm(ctx *pulumi.Context, name string, r rules.Rule, params pulumi.AnyOutput, args AlertsArgs,
	topicARN pulumi.StringOutput, parent pulumi.ResourceOption) (*cloudwatch.MetricAlarm, error) {
	logGroups := map[rules.Source]pulumi.StringInput{rules.TrailLogs: args.TrailLogGroupName, rules.AppLogs: args.AppLogGroupName}
	// The namespace is the stack's, known before any resource: the filters publish into it and
	// the alarm reads it (the same params render both).
	known := rules.Params{MetricNamespace: args.Names.MetricNamespace()}
	var filters []pulumi.Resource
	if isLogRule(r) {
		filter, err := newMetricFilter(ctx, name+"-filter-"+r.ID, args.Names.Alarm(r), logGroups[r.Source],
			params.ApplyT(func(p any) string { return r.FilterPattern(p.(rules.Params)) }).(pulumi.StringOutput),
			r.MetricTransformation(known), parent)
		if err != nil {
			return nil, err
		}
		filters = append(filters, filter)
	}
	for i, pm := range r.PublishedMetrics(known) {
		filter, err := newMetricFilter(ctx, name+"-filter-"+r.ID+"-"+pm.Name, args.Names.Alarm(r)+"-"+pm.Name, logGroups[pm.Source],
			params.ApplyT(func(p any) string { return r.PublishedMetrics(p.(rules.Params))[i].Pattern }).(pulumi.StringOutput),
			pm.Transform, parent)
		if err != nil {
			return nil, err
		}
		filters = append(filters, filter)
	}
	spec := r.Alarm(known)
	actions := pulumi.Array{topicARN}
	if args.Responder != nil && args.Responder.Enabled && slices.Contains(args.Responder.AlarmRuleIDs, r.ID) {
		actions = append(actions, args.Responder.FunctionARN) // ALARM only: OK lifts nothing
	}
	alarm := &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(args.Names.Alarm(r)),
		AlarmDescription:   pulumi.String(rules.AlarmDescription(r)),
		EvaluationPeriods:  pulumi.Int(spec.EvaluationPeriods),
		DatapointsToAlarm:  pulumi.Int(spec.DatapointsToAlarm), // M of N: see rules.Firing
		ComparisonOperator: pulumi.String(spec.ComparisonOperator),
		TreatMissingData:   pulumi.String(spec.TreatMissingData),
		ActionsEnabled:     pulumi.Bool(true),
		AlarmActions:       actions,
		OkActions:          pulumi.Array{topicARN},
	}
	switch {
	case spec.MetricName != "":
		alarm.Namespace, alarm.MetricName, alarm.Statistic = pulumi.String(spec.Namespace), pulumi.String(spec.MetricName), pulumi.String(spec.Statistic)
		alarm.Period, alarm.Threshold = pulumi.Int(spec.PeriodSeconds), pulumi.Float64(spec.Threshold)
	default:
		// With a Metrics array PutMetricAlarm takes no Namespace, MetricName, Period or Statistic:
		// each query has its own (rules.MetricQueries, checked by rules.ValidateMetricQueries).
		alarm.MetricQueries = params.ApplyT(func(p any) ([]cloudwatch.MetricAlarmMetricQuery, error) {
			qs := r.MetricQueries(p.(rules.Params))
			if err := rules.ValidateMetricQueries(qs, spec.ThresholdMetricID); err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			return metricQueries(qs), nil
		}).(cloudwatch.MetricAlarmMetricQueryArrayOutput)
		if spec.ThresholdMetricID != "" {
			alarm.ThresholdMetricId = pulumi.String(spec.ThresholdMetricID)
		} else {
			alarm.Threshold = pulumi.Float64(spec.Threshold)
		}
	}
	return cloudwatch.NewMetricAlarm(ctx, name+"-alarm-"+r.ID, alarm, parent, pulumi.DependsOn(filters))
}

// newMetricFilter publishes a metric from the log events a pattern matches.
func newMetricFilter(ctx *pulumi.Context, logicalName, filterName string, logGroup pulumi.StringInput, pattern pulumi.StringOutput,
	mt rules.MetricTransformation, parent pulumi.ResourceOption) (*cloudwatch.LogMetricFilter, error) {
	transformation := cloudwatch.LogMetricFilterMetricTransformationArgs{
		Name:      pulumi.String(mt.Name),
		Namespace: pulumi.String(mt.Namespace),
		Value:     pulumi.String(mt.Value),
	}
	if mt.DefaultValue != nil {
		transformation.DefaultValue = pulumi.String(strconv.FormatFloat(*mt.DefaultValue, 'f', -1, 64))
	}
	return cloudwatch.NewLogMetricFilter(ctx, logicalName, &cloudwatch.LogMetricFilterArgs{
		Name:                 pulumi.String(filterName),
		LogGroupName:         logGroup,
		Pattern:              pattern,
		MetricTransformation: transformation,
	}, parent)
}

// metricQueries are the rule set's queries as the provider takes them.
func metricQueries(qs []rules.MetricQuery) []cloudwatch.MetricAlarmMetricQuery {
	out := make([]cloudwatch.MetricAlarmMetricQuery, len(qs))
	for i, q := range qs {
		returnData := q.ReturnData
		out[i] = cloudwatch.MetricAlarmMetricQuery{Id: q.ID, ReturnData: &returnData}
		if q.Label != "" {
			out[i].Label = &q.Label
		}
		if q.Expression != "" {
			out[i].Expression = &q.Expression
		}
		if m := q.Metric; m != nil {
			dims := map[string]string{}
			for _, d := range m.Dimensions {
				dims[d.Name] = d.Value
			}
			namespace := m.Namespace
			out[i].Metric = &cloudwatch.MetricAlarmMetricQueryMetric{Namespace: &namespace, MetricName: m.MetricName,
				Period: m.PeriodSeconds, Stat: m.Stat, Dimensions: dims}
		}
	}
	return out
}

// newRuleEvent deploys a rule that notifies at once: an EventBridge rule on the default bus and
// a target that turns the CloudTrail event into a readable message on the topic.
func newRuleEvent(ctx *pulumi.Context, name string, r rules.Rule, params pulumi.AnyOutput, names stackNames,
	topicARN pulumi.StringOutput, resp *Response, parent pulumi.ResourceOption) error {
	pattern := params.ApplyT(func(p any) (string, error) {
		pattern, ok := r.EventPattern(p.(rules.Params))
		if !ok {
			return "", fmt.Errorf("rule %s: no event pattern", r.ID)
		}
		return pattern, nil
	}).(pulumi.StringOutput)
	rule, err := cloudwatch.NewEventRule(ctx, name+"-event-"+r.ID, &cloudwatch.EventRuleArgs{
		Name:         pulumi.String(names.EventRule(r.ID)),
		Description:  pulumi.String(rules.Truncate(r.Title, 512)),
		EventPattern: pattern,
	}, parent)
	if err != nil {
		return err
	}
	n := r.Notification()
	_, err = cloudwatch.NewEventTarget(ctx, name+"-event-target-"+r.ID, &cloudwatch.EventTargetArgs{
		Rule:     rule.Name,
		TargetId: pulumi.String("alert-topic"),
		Arn:      topicARN,
		InputTransformer: &cloudwatch.EventTargetInputTransformerArgs{
			InputPaths:    pulumi.ToStringMap(n.InputPaths),
			InputTemplate: pulumi.String(n.InputTemplate),
		},
	}, parent)
	if err != nil || resp == nil || !resp.Enabled || !slices.Contains(resp.EventRuleIDs, r.ID) {
		return err
	}
	// The responder gets the event itself, not the person's text.
	_, err = cloudwatch.NewEventTarget(ctx, name+"-event-responder-"+r.ID, &cloudwatch.EventTargetArgs{
		Rule: rule.Name, TargetId: pulumi.String("responder"), Arn: resp.FunctionARN,
	}, parent)
	return err
}

// alertTopicPolicy lets exactly the stack's alarms and EventBridge rules publish, from this account.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
func alertTopicPolicy(env awsEnv, topicARN string, alarmARNs, eventRuleARNs []string) policyDocument {
	var statements []statement
	if len(alarmARNs) > 0 {
		statements = append(statements, allow("AlarmsPublish", "sns:Publish").
			forService("cloudwatch.amazonaws.com").on(topicARN).
			when("ArnEquals", "aws:SourceArn", alarmARNs...).
			when("StringEquals", "aws:SourceAccount", env.Account))
	}
	if len(eventRuleARNs) > 0 {
		statements = append(statements, allow("EventRulesPublish", "sns:Publish").
			forService("events.amazonaws.com").on(topicARN).
			when("ArnEquals", "aws:SourceArn", eventRuleARNs...).
			when("StringEquals", "aws:SourceAccount", env.Account))
	}
	return newPolicy(statements...)
}
