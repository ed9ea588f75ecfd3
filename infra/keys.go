package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// KeysArgs names every principal and resource that may use the keys. ARNs of resources created
// later (trail, log groups, topic) are predicted from their fixed names; tests check the prediction
// against the real resources.
type KeysArgs struct {
	Env         awsEnv
	Names       stackNames
	TaskRoleARN pulumi.StringInput
	Protect     bool
	// OwnTrail: the stack creates its trail and trail log group, which the audit key encrypts.
	// With a brought trail those are the account's, under its own keys.
	OwnTrail bool
	Hunting  bool // Athena writes query results under the audit key (see auditKeyPolicy)
	// ResponderRoleARN is the responder's role ("" when response is notify): its log group is
	// encrypted with the audit key, and it publishes to the encrypted alert topic.
	ResponderRoleARN string
}

// Keys holds the app key (the app encrypts each record with it, directly: KMS Encrypt and Decrypt,
// hence the 4 KB limit on a text; used by the task role only) and the audit
// key (trail log files, log groups, alert topic).
type Keys struct {
	pulumi.ResourceState

	AppKeyARN   pulumi.StringOutput
	AppKeyID    pulumi.StringOutput
	AuditKeyARN pulumi.StringOutput
}

// keyAdministration lists the account's administrative actions one by one, instead of the usual
// "kms:*" or the console's "kms:Create*"-style wildcards: a wildcard covers kms:CreateGrant, and a
// grant can give its grantee Decrypt, so any IAM principal allowed CreateGrant could use the key
// and "use by the task role only" would rest on every IAM policy in the account. No AWS service
// needs a grant on these keys (CloudTrail, CloudWatch Logs and SNS use the key policy), so
// CreateGrant is not here at all; ListGrants and RevokeGrant stay, to see and remove grants.
// PutKeyPolicy stays so that the account can always repair the policy: without it CreateKey and
// PutKeyPolicy fail the lockout safety check.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#KMS-CreateKey-request-Policy
var keyAdministration = []string{
	"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListKeyPolicies", "kms:PutKeyPolicy",
	"kms:GetKeyRotationStatus", "kms:ListKeyRotations", "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand",
	"kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription",
	"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
	"kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
	"kms:ListGrants", "kms:RevokeGrant",
	"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
}

// appKeyUse is exactly what the app calls (app/kms): Encrypt and Decrypt, nothing else, so a
// stolen task-role credential can do no more with the key than the app does.
var appKeyUse = []string{"kms:Encrypt", "kms:Decrypt"}

// logsKeyUse is what CloudWatch Logs needs to encrypt and read a log group.
var logsKeyUse = []string{
	"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
}

func adminStatement(env awsEnv) statement {
	// In a key policy, Resource "*" means this key.
	return allow("KeyAdministrationByTheAccount", keyAdministration...).forAWS(env.rootARN()).on("*")
}

// appKeyPolicy: administration by the account, use by the task role and no one else.
func appKeyPolicy(env awsEnv, taskRoleARN string) policyDocument {
	return newPolicy(
		adminStatement(env),
		allow("UseByTheAppTaskRoleOnly", appKeyUse...).forAWS(taskRoleARN).on("*"),
	)
}

// auditKeyPolicy gives each AWS service that writes audit data exactly what its documentation
// asks, scoped to this stack's trail, log groups and topic. Without its own trail, the CloudTrail
// statements and the trail log group go.
func auditKeyPolicy(env awsEnv, names stackNames, ownTrail, hunting bool, responderRoleARN string) policyDocument {
	topicARN := env.topicARN(names)
	logGroups := []string{env.logGroupARN(names.AppLogGroup())}
	if responderRoleARN != "" {
		logGroups = append(logGroups, env.logGroupARN(names.ResponderLogGroup()))
	}
	var trail []statement
	if ownTrail {
		logGroups = append([]string{env.logGroupARN(names.TrailLogGroup())}, logGroups...)
		trail = trailKeyStatements(env, names)
	}
	statements := append([]statement{adminStatement(env)}, trail...)
	statements = append(statements,
		// CloudWatch Logs encrypts the stack's log groups, named in the encryption context.
		// The guide's wildcards (Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey*, Describe*) are
		// written out, without the data key pair operations, which apply to asymmetric data keys.
		// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
		allow("CloudWatchLogsEncryptsLogGroups", logsKeyUse...).
			forService(env.logsPrincipal()).on("*").
			when("ArnEquals", "kms:EncryptionContext:aws:logs:arn", logGroups...),
		// Alarms and EventBridge publish to the encrypted topic with their own service principals.
		// SNS needs no statement of its own: it encrypts with the publisher's permissions.
		// The condition is SNS's encryption context (aws:sns:topicArn), which every publish carries;
		// aws:SourceArn is not dependable on this path, notably for EventBridge.
		// https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
		// https://docs.aws.amazon.com/gamelift/latest/flexmatchguide/queue-notification-sns-sse.html (the context key)
		allow("CloudWatchAlarmsPublishToAlertTopic", "kms:Decrypt", "kms:GenerateDataKey").
			forService("cloudwatch.amazonaws.com").on("*").
			when("StringEquals", "kms:EncryptionContext:aws:sns:topicArn", topicARN),
		allow("EventBridgePublishesToAlertTopic", "kms:Decrypt", "kms:GenerateDataKey").
			forService("events.amazonaws.com").on("*").
			when("StringEquals", "kms:EncryptionContext:aws:sns:topicArn", topicARN),
	)
	if hunting {
		// Athena writes and reads query results with the caller's permissions, S3 asking KMS under the
		// results bucket's context (its ARN with an S3 Bucket Key, the object's without): the
		// account's IAM principals may, through S3, for that bucket only. The IAM side is the
		// hunters' policy (hunting_access.go).
		// https://docs.aws.amazon.com/athena/latest/ug/encrypting-query-results-stored-in-s3.html
		// https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context
		results := env.s3BucketARN(names.AthenaResultsBucket(env))
		statements = append(statements,
			allow("AthenaQueryResultsInTheAccount", "kms:GenerateDataKey", "kms:Decrypt").forAWS(env.rootARN()).on("*").
				when("StringEquals", "kms:ViaService", "s3."+env.Region+".amazonaws.com").
				when("ArnLike", "kms:EncryptionContext:aws:s3:arn", results, results+"/*"))
	}
	if responderRoleARN != "" {
		statements = append(statements, responderKeyStatement(env, topicARN, responderRoleARN))
	}
	return newPolicy(statements...)
}

// trailKeyStatements let the stack's trail encrypt its log files, and people read them.
func trailKeyStatements(env awsEnv, names stackNames) []statement {
	trailARN := env.trailARN(names)
	anyTrailInAccount := "arn:" + env.Partition + ":cloudtrail:*:" + env.Account + ":trail/*"
	return []statement{
		// People (through IAM) read the trail's log files; only with CloudTrail's encryption context.
		// Athena reads them the same way: S3 decrypts each object with the caller's permissions
		// (kms:ViaService s3), under the context CloudTrail wrote it with.
		// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail-decrypt.html
		allow("ReadTrailLogFilesInTheAccount", "kms:Decrypt").forAWS(env.rootARN()).on("*").
			when("StringLike", "kms:EncryptionContext:aws:cloudtrail:arn", anyTrailInAccount),
		// CloudTrail encrypts log files (and, per the current guide, digest files) for this trail
		// only (aws:SourceArn). The guide's "kms:GenerateDataKey*" is written out: S3 asks KMS for
		// GenerateDataKey on CloudTrail's behalf.
		// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
		// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-kms-works-with-cloudtrail.html
		allow("CloudTrailEncryptsLogFiles", "kms:GenerateDataKey").forService("cloudtrail.amazonaws.com").on("*").
			when("StringEquals", "aws:SourceArn", trailARN).
			when("StringLike", "kms:EncryptionContext:aws:cloudtrail:arn", anyTrailInAccount),
		// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail-describe.html
		allow("CloudTrailDescribesKey", "kms:DescribeKey").forService("cloudtrail.amazonaws.com").on("*").
			when("StringEquals", "aws:SourceArn", trailARN),
	}
}

func newKeys(ctx *pulumi.Context, name string, args KeysArgs, opts ...pulumi.ResourceOption) (*Keys, error) {
	k := &Keys{}
	if err := ctx.RegisterComponentResource("kmswatch:keys:Keys", name, k, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(k)
	window := 7 // shortest pending window: a clean teardown
	if args.Protect {
		window = 30
	}
	// With protect, the trail bucket and log groups outlive the stack; their data is encrypted
	// under these keys, so the keys (and the aliases people find them by) must outlive it too,
	// or the kept data becomes unreadable once the pending window ends. Without protect, destroy
	// schedules the keys for deletion like everything else.
	// https://www.pulumi.com/docs/iac/concepts/options/retainondelete/
	keep := pulumi.RetainOnDelete(args.Protect)

	appPolicy := args.TaskRoleARN.ToStringOutput().ApplyT(func(role string) string {
		return appKeyPolicy(args.Env, role).JSON()
	}).(pulumi.StringOutput)
	appKey, err := kms.NewKey(ctx, name+"-app", &kms.KeyArgs{
		Description:          pulumi.String("kmswatch app key: encrypts the stored records (KMS Encrypt/Decrypt)"),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(window),
		Policy:               appPolicy,
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name+"-app-alias", &kms.AliasArgs{
		Name:        pulumi.String(args.Names.KeyAlias()),
		TargetKeyId: appKey.KeyId,
	}, parent, keep); err != nil {
		return nil, err
	}

	auditKey, err := kms.NewKey(ctx, name+"-audit", &kms.KeyArgs{
		Description:          pulumi.String("kmswatch audit key: CloudTrail log files, log groups, alert topic"),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(window),
		Policy:               pulumi.String(auditKeyPolicy(args.Env, args.Names, args.OwnTrail, args.Hunting, args.ResponderRoleARN).JSON()),
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name+"-audit-alias", &kms.AliasArgs{
		Name:        pulumi.String(args.Names.AuditKeyAlias()),
		TargetKeyId: auditKey.KeyId,
	}, parent, keep); err != nil {
		return nil, err
	}

	k.AppKeyARN = appKey.Arn
	k.AppKeyID = appKey.KeyId
	k.AuditKeyARN = auditKey.Arn
	return k, ctx.RegisterResourceOutputs(k, pulumi.Map{
		"appKeyArn":   appKey.Arn,
		"appKeyId":    appKey.KeyId,
		"auditKeyArn": auditKey.Arn,
	})
}
