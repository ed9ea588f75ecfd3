package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/dynamodb"
	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awsdynamodb "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// keyDeletionRuleID is the EventBridge rule whose events carry ScheduleKeyDeletion: the
// responder is its second target (the first tells a person).
const keyDeletionRuleID = "kms-key-disable-or-delete"

// ResponseArgs: what the responder may act on, and the rules that trigger it.
type ResponseArgs struct {
	Env                 awsEnv
	Names               stackNames
	Mode                responder.Mode
	ContainOn           []rules.Rule // rules whose alarm contains the task role
	ContainmentInterval time.Duration
	TaskRole            *iam.Role
	AppKeyARN           pulumi.StringOutput
	AuditKeyARN         pulumi.StringOutput
	LogRetentionDays    int
	Protect             bool
}

// Response is the responder: a Lambda that the containing alarms and the key-deletion rule
// invoke, its role, its log group and its record table. With response "notify" it is nothing.
type Response struct {
	pulumi.ResourceState

	Enabled     bool
	FunctionARN pulumi.StringOutput
	TableName   pulumi.StringOutput
	// The alarms (by rule id) and EventBridge rules that must invoke the function; alerts wires them.
	AlarmRuleIDs, EventRuleIDs []string
}

// Names of the responder's resources: fixed, because the audit key's policy and the alert topic
// must name them before they exist. One name for the function, its role and its table.
func (n stackNames) Responder() string         { return n.prefix + "-responder" }
func (n stackNames) ResponderLogGroup() string { return "/aws/lambda/" + n.Responder() }
func (e awsEnv) responderRoleARN(n stackNames) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", e.Partition, e.Account, n.Responder())
}

// ecsServiceARN is the app's service, which ECS names arn:...:service/<cluster>/<service>.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html#ecs-resource-ids
func (e awsEnv) ecsServiceARN(n stackNames) string {
	return e.arn("ecs", "service/"+n.Cluster()+"/"+containerName)
}

func newResponse(ctx *pulumi.Context, name string, args ResponseArgs, opts ...pulumi.ResourceOption) (*Response, error) {
	r := &Response{}
	if args.Mode == responder.ModeNotify {
		return r, nil // email only: no function, no role, no permission of any kind
	}
	if err := ctx.RegisterComponentResource("kmswatch:response:Response", name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	env, names := args.Env, args.Names
	archive, err := buildResponder()
	if err != nil {
		return nil, err
	}

	// DynamoDB always encrypts at rest; enabled without a key ARN means the AWS managed key
	// aws/dynamodb, whose every use CloudTrail logs and whose key policy lets the account's
	// DynamoDB callers use it, so neither the function nor `kmswatch status` needs a KMS
	// permission. Not the audit key: the responder may use that one only to publish. Records
	// hold ARNs and policy documents, no secret.
	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html
	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html
	table, err := awsdynamodb.NewTable(ctx, name+"-records", &awsdynamodb.TableArgs{
		Name:                      pulumi.String(names.Responder()),
		BillingMode:               pulumi.String("PAY_PER_REQUEST"),
		HashKey:                   pulumi.String(dynamodb.KeyAttribute),
		Attributes:                awsdynamodb.TableAttributeArray{awsdynamodb.TableAttributeArgs{Name: pulumi.String(dynamodb.KeyAttribute), Type: pulumi.String("S")}},
		ServerSideEncryption:      &awsdynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
		PointInTimeRecovery:       &awsdynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		DeletionProtectionEnabled: pulumi.Bool(args.Protect),
	}, parent, pulumi.RetainOnDelete(args.Protect))
	if err != nil {
		return nil, err
	}
	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(names.ResponderLogGroup()),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.AuditKeyARN,
	}, parent, pulumi.RetainOnDelete(args.Protect))
	if err != nil {
		return nil, err
	}

	// Lambda's execution-role trust names the service only, as Lambda's guide writes it.
	// https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Name:             pulumi.String(names.Responder()),
		Description:      pulumi.String("kmswatch responder: contains the app's task role, cancels the app key's deletion (" + string(args.Mode) + ")"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("lambda.amazonaws.com")),
	}, parent)
	if err != nil {
		return nil, err
	}
	policy := pulumi.All(args.TaskRole.Arn, args.AppKeyARN, args.AuditKeyARN, table.Arn, logGroup.Arn).ApplyT(func(v []any) string {
		return responderPolicy(env, names, args.Mode, responderTargets{
			TaskRoleARN: v[0].(string), AppKeyARN: v[1].(string), AuditKeyARN: v[2].(string), TableARN: v[3].(string), LogGroupARN: v[4].(string),
		}).JSON()
	}).(pulumi.StringOutput)
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, parent)
	if err != nil {
		return nil, err
	}

	var alarmNames []string
	for _, rule := range args.ContainOn {
		alarmNames = append(alarmNames, names.Alarm(rule))
		r.AlarmRuleIDs = append(r.AlarmRuleIDs, rule.ID)
	}
	fn, err := lambda.NewFunction(ctx, name+"-function", &lambda.FunctionArgs{
		Name:          pulumi.String(names.Responder()),
		Description:   pulumi.String("kmswatch responder (" + string(args.Mode) + "): contains the task role on " + strings.Join(alarmNames, ", ")),
		Runtime:       pulumi.String(lambdaRuntime),
		Architectures: pulumi.StringArray{pulumi.String(lambdaArch)},
		Handler:       pulumi.String(lambdaHandler),
		Code:          pulumi.NewFileArchive(archive.Path),
		// Lambda compares this to decide whether to upload; equal bytes, equal hash: no update.
		SourceCodeHash: pulumi.String(archive.SHA256Base64),
		Role:           role.Arn,
		MemorySize:     pulumi.Int(128),
		Timeout:        pulumi.Int(60),
		// No reserved concurrency: Lambda lets a function reserve only up to the account's
		// unreserved concurrency "minus 100 for functions that don't have reserved concurrency",
		// so in an account whose quota is 100 or less (new accounts can start well under the
		// default) any reservation fails the first pulumi up. Nothing needs it: the containment claim (a conditional write to the records
		// table) serializes containments whatever runs at once.
		// https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
		LoggingConfig: &lambda.FunctionLoggingConfigArgs{LogFormat: pulumi.String("Text"), LogGroup: logGroup.Name},
		Environment: &lambda.FunctionEnvironmentArgs{Variables: pulumi.StringMap{
			"RESPONSE_MODE":        pulumi.String(string(args.Mode)),
			"TASK_ROLE_NAME":       args.TaskRole.Name,
			"TASK_ROLE_ARN":        args.TaskRole.Arn,
			"ECS_CLUSTER":          pulumi.String(names.Cluster()),
			"ECS_SERVICE":          pulumi.String(containerName),
			"APP_KEY_ARN":          args.AppKeyARN,
			"AUDIT_KEY_ARN":        args.AuditKeyARN,
			"CONTAIN_ON_ALARMS":    pulumi.String(strings.Join(alarmNames, ",")),
			"CONTAINMENT_INTERVAL": pulumi.String(args.ContainmentInterval.String()),
			"RECORD_TABLE":         table.Name,
			"ALERT_TOPIC_ARN":      pulumi.String(env.topicARN(names)),
		}},
	}, parent, pulumi.DependsOn([]pulumi.Resource{rolePolicy, logGroup}))
	if err != nil {
		return nil, err
	}
	// After Lambda's own retries a failed invocation reaches a person on the alert topic, with
	// the payload, instead of only the function's error metric.
	// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
	if _, err := lambda.NewFunctionEventInvokeConfig(ctx, name+"-on-failure", &lambda.FunctionEventInvokeConfigArgs{
		FunctionName: fn.Name,
		DestinationConfig: &lambda.FunctionEventInvokeConfigDestinationConfigArgs{
			OnFailure: &lambda.FunctionEventInvokeConfigDestinationConfigOnFailureArgs{Destination: pulumi.String(env.topicARN(names))},
		},
	}, parent); err != nil {
		return nil, err
	}

	// Who may invoke it: each containing alarm, and the key-deletion rule, by ARN.
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions
	for _, rule := range args.ContainOn {
		if _, err := lambda.NewPermission(ctx, name+"-invoke-by-alarm-"+rule.ID, &lambda.PermissionArgs{
			Function: fn.Name, Action: pulumi.String("lambda:InvokeFunction"),
			Principal:     pulumi.String("lambda.alarms.cloudwatch.amazonaws.com"),
			SourceArn:     pulumi.String(env.alarmARN(names.Alarm(rule))),
			SourceAccount: pulumi.String(env.Account),
		}, parent); err != nil {
			return nil, err
		}
	}
	if _, err := lambda.NewPermission(ctx, name+"-invoke-by-rule-"+keyDeletionRuleID, &lambda.PermissionArgs{
		Function: fn.Name, Action: pulumi.String("lambda:InvokeFunction"),
		Principal:     pulumi.String("events.amazonaws.com"),
		SourceArn:     pulumi.String(env.eventRuleARN(names.EventRule(keyDeletionRuleID))),
		SourceAccount: pulumi.String(env.Account),
	}, parent); err != nil {
		return nil, err
	}
	r.EventRuleIDs = []string{keyDeletionRuleID}

	r.Enabled = true
	r.FunctionARN = fn.Arn
	r.TableName = table.Name
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"functionArn": fn.Arn, "tableName": table.Name})
}

// responderTargets are the resources the responder's role names, resolved.
type responderTargets struct{ TaskRoleARN, AppKeyARN, AuditKeyARN, TableARN, LogGroupARN string }

// responderPolicy is the responder's whole permission: each action it calls, on the one
// resource it calls it on. dryRun keeps the reads and drops the three changes.
//
// IAM has no condition key for an inline policy's name or content, so iam:PutRolePolicy on the
// task role's ARN is as narrow as IAM allows; the function writes only AWSRevokeOlderSessions
// (responder.Stack.Permits checks every action before the call).
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
func responderPolicy(env awsEnv, names stackNames, mode responder.Mode, t responderTargets) policyDocument {
	topicARN := env.topicARN(names)
	statements := []statement{
		allow("ReadTheTaskRolesRevocation", "iam:GetRolePolicy").on(t.TaskRoleARN),
		allow("ReadTheAppKeysState", "kms:DescribeKey").on(t.AppKeyARN),
		allow("KeepTheRecords", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem").on(t.TableARN),
		allow("Announce", "sns:Publish").on(topicARN),
		// Publishing to a topic encrypted with a customer managed key takes these two on the
		// key; only through SNS, and only for this topic's encryption context.
		// https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#send-to-encrypted-topic
		allow("EncryptForTheAlertTopic", "kms:GenerateDataKey", "kms:Decrypt").on(t.AuditKeyARN).
			when("StringEquals", "kms:EncryptionContext:aws:sns:topicArn", topicARN).
			when("StringEquals", "kms:ViaService", "sns."+env.Region+".amazonaws.com"),
		allow("WriteItsLogs", "logs:CreateLogStream", "logs:PutLogEvents").on(t.LogGroupARN + ":log-stream:*"),
	}
	if mode == responder.ModeContain {
		statements = append(statements,
			allow("RevokeTheTaskRolesSessions", "iam:PutRolePolicy").on(t.TaskRoleARN),
			// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security_iam_id-based-policy-examples.html
			allow("StartFreshTasks", "ecs:UpdateService").on(env.ecsServiceARN(names)),
			allow("CancelTheAppKeysDeletion", "kms:CancelKeyDeletion").on(t.AppKeyARN),
		)
	}
	return newPolicy(statements...)
}

// responderKeyStatement lets the responder's role use the audit key for what publishing to the
// alert topic needs and nothing else. The principal is the account with the role's ARN as a
// condition, because the key exists before the role: a key policy naming a role that does not
// exist yet is refused. For a role session, aws:PrincipalArn is the role's ARN.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
// https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
func responderKeyStatement(env awsEnv, topicARN, roleARN string) statement {
	return allow("ResponderPublishesToAlertTopic", "kms:GenerateDataKey", "kms:Decrypt").forAWS(env.rootARN()).on("*").
		when("ArnEquals", "aws:PrincipalArn", roleARN).
		when("StringEquals", "kms:EncryptionContext:aws:sns:topicArn", topicARN).
		when("StringEquals", "kms:ViaService", "sns."+env.Region+".amazonaws.com")
}

// containRules resolves the configured rule ids against the stack's rule set (its thresholds).
func containRules(all []rules.Rule, ids []string) []rules.Rule {
	var out []rules.Rule
	for _, r := range all {
		if slices.Contains(ids, r.ID) {
			out = append(out, r)
		}
	}
	return out
}
