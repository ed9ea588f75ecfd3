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
	KeyARNs           pulumi.StringArrayInput // the stack's keys, for rules about key changes
	TrailLogGroupName pulumi.StringInput
	AppLogGroupName   pulumi.StringInput
	AuditKeyARN       pulumi.StringInput
	AlertEmail        string
	Responder         *Response // its function is also an action of the containing alarms and a target of the key-deletion rule
}

// Alerts deploys each detection rule: a metric filter and an alarm for log-based rules, an
// EventBridge rule for rules that notify at once; all of them notify the encrypted alert topic.
type Alerts struct {
	pulumi.ResourceState

	TopicARN   pulumi.StringOutput
	AlarmNames pulumi.StringArrayOutput
}

// maxAlarmDescription is CloudWatch's limit on AlarmDescription.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
const maxAlarmDescription = 1024

func newAlerts(ctx *pulumi.Context, name string, args AlertsArgs, opts ...pulumi.ResourceOption) (*Alerts, error) {
	a := &Alerts{}
	if err := ctx.RegisterComponentResource("kmswatch:alerts:Alerts", name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	env, names := args.Env, args.Names

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
		if isLogRule(r) {
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
	params := pulumi.All(args.TaskRoleARN, args.KeyARNs).ApplyT(func(v []any) rules.Params {
		return stackParams(v[0].(string), v[1].([]string), names)
	}).(pulumi.AnyOutput)
	var alarmNames pulumi.StringArray
	for _, r := range args.Rules {
		if isLogRule(r) {
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

func notifiesAtOnce(r rules.Rule) bool {
	_, ok := r.EventPattern(rules.Params{})
	return ok
}

// newRuleAlarm deploys a log rule: the metric filter on its log group and the alarm on its metric.
func newRuleAlarm(ctx *pulumi.Context, name string, r rules.Rule, params pulumi.AnyOutput, args AlertsArgs,
	topicARN pulumi.StringOutput, parent pulumi.ResourceOption) (*cloudwatch.MetricAlarm, error) {
	logGroup := args.TrailLogGroupName
	if r.Source == rules.AppLogs {
		logGroup = args.AppLogGroupName
	}
	mt := r.MetricTransformation()
	transformation := cloudwatch.LogMetricFilterMetricTransformationArgs{
		Name:      pulumi.String(mt.Name),
		Namespace: pulumi.String(mt.Namespace),
		Value:     pulumi.String(mt.Value),
	}
	if mt.DefaultValue != nil {
		transformation.DefaultValue = pulumi.String(strconv.FormatFloat(*mt.DefaultValue, 'f', -1, 64))
	}
	filter, err := cloudwatch.NewLogMetricFilter(ctx, name+"-filter-"+r.ID, &cloudwatch.LogMetricFilterArgs{
		Name:         pulumi.String(args.Names.Alarm(r)),
		LogGroupName: logGroup,
		Pattern: params.ApplyT(func(p any) string {
			return r.FilterPattern(p.(rules.Params))
		}).(pulumi.StringOutput),
		MetricTransformation: transformation,
	}, parent)
	if err != nil {
		return nil, err
	}
	spec := r.Alarm()
	actions := pulumi.Array{topicARN}
	if args.Responder != nil && args.Responder.Enabled && slices.Contains(args.Responder.AlarmRuleIDs, r.ID) {
		actions = append(actions, args.Responder.FunctionARN) // ALARM only: OK lifts nothing
	}
	return cloudwatch.NewMetricAlarm(ctx, name+"-alarm-"+r.ID, &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(args.Names.Alarm(r)),
		AlarmDescription:   pulumi.String(alarmDescription(r)),
		Namespace:          pulumi.String(spec.Namespace),
		MetricName:         pulumi.String(spec.MetricName),
		Statistic:          pulumi.String(spec.Statistic),
		Period:             pulumi.Int(spec.PeriodSeconds),
		EvaluationPeriods:  pulumi.Int(spec.EvaluationPeriods),
		DatapointsToAlarm:  pulumi.Int(spec.DatapointsToAlarm), // M of N: see rules.Firing
		Threshold:          pulumi.Float64(spec.Threshold),
		ComparisonOperator: pulumi.String(spec.ComparisonOperator),
		TreatMissingData:   pulumi.String(spec.TreatMissingData),
		ActionsEnabled:     pulumi.Bool(true),
		AlarmActions:       actions,
		OkActions:          pulumi.Array{topicARN},
	}, parent, pulumi.DependsOn([]pulumi.Resource{filter}))
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
		Description:  pulumi.String(truncate(r.Title, 512)),
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

// alarmDescription tells the person paged what fired and what to do, within CloudWatch's limit.
func alarmDescription(r rules.Rule) string {
	return truncate(fmt.Sprintf("[%s] %s (%s). %s What to do: %s", r.Severity, r.Title, r.ID, r.Description, r.Runbook), maxAlarmDescription)
}

// truncate shortens s to at most limit bytes without splitting a UTF-8 sequence.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
