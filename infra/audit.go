package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudtrail"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AuditArgs: where the trail delivers and how long it keeps what it delivers, or the trail the
// account already has.
type AuditArgs struct {
	Env              awsEnv
	Names            stackNames
	AuditKeyARN      pulumi.StringInput
	LogRetentionDays int
	Protect          bool
	// Brought is the account's existing trail, when the stack uses it instead of its own.
	Brought *broughtTrail
}

// broughtTrail is an existing trail's CloudWatch Logs group (in the stack's region) and, for
// replay and hunting, its S3 bucket ("" when not given).
type broughtTrail struct{ LogGroupName, BucketName string }

// Audit is the CloudTrail trail that records the account's management events (KMS included), in
// every Region, into an encrypted S3 bucket and into a CloudWatch Logs group that metric filters
// watch. With a brought trail it creates nothing and names that trail's log group and bucket.
type Audit struct {
	pulumi.ResourceState

	TrailName         pulumi.StringOutput // "" for a brought trail
	TrailARN          pulumi.StringOutput
	TrailLogGroupName pulumi.StringOutput
	BucketName        pulumi.StringOutput
}

func newAudit(ctx *pulumi.Context, name string, args AuditArgs, opts ...pulumi.ResourceOption) (*Audit, error) {
	a := &Audit{}
	if err := ctx.RegisterComponentResource("kmswatch:audit:Audit", name, a, opts...); err != nil {
		return nil, err
	}
	if args.Brought != nil {
		return a, a.useBroughtTrail(ctx, *args.Brought)
	}
	parent := pulumi.Parent(a)
	// With protect the bucket outlives the stack, and so does what keeps it private and
	// encrypted: its public access block, ownership, encryption, expiry and TLS-only policy.
	keep := pulumi.RetainOnDelete(args.Protect)
	env, names := args.Env, args.Names
	trailARN := env.trailARN(names)

	bucket, err := s3.NewBucketV2(ctx, name+"-trail-bucket", &s3.BucketV2Args{
		ForceDestroy: pulumi.Bool(!args.Protect), // without protect, destroy removes the logs too
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	publicBlock, err := s3.NewBucketPublicAccessBlock(ctx, name+"-trail-bucket-public-access", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	ownership, err := s3.NewBucketOwnershipControls(ctx, name+"-trail-bucket-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent, keep, pulumi.DependsOn([]pulumi.Resource{publicBlock}))
	if err != nil {
		return nil, err
	}
	// Default encryption SSE-S3; the audit key comes through the trail's kmsKeyId. CloudTrail
	// encrypts what it delivers itself, with its own encryption context (aws:cloudtrail:arn), the
	// only one the key policy accepts from it: log files under the audit key; digest files under
	// SSE-S3 (the long-standing note) or the trail's key (the current key-policy page). A bucket
	// default applies only to writes without their own setting, and an SSE-KMS default with the
	// audit key would be refused (S3 asks under the aws:s3:arn context): SSE-S3 cannot fail.
	// No S3 Bucket Key: with one, CloudTrail would also need kms:Decrypt.
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-encryption.html
	encryption, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-trail-bucket-sse", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
			BucketKeyEnabled: pulumi.Bool(false),
		}},
	}, parent, keep, pulumi.DependsOn([]pulumi.Resource{ownership}))
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-trail-bucket-expiry", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:         pulumi.String("expire-trail-logs"),
			Status:     pulumi.String("Enabled"),
			Filter:     &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			Expiration: &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(args.LogRetentionDays)},
		}},
	}, parent, keep, pulumi.DependsOn([]pulumi.Resource{encryption})); err != nil {
		return nil, err
	}
	bucketPolicy, err := s3.NewBucketPolicy(ctx, name+"-trail-bucket-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(bucketARN string) string {
			return trailBucketPolicy(env, bucketARN, trailARN).JSON()
		}).(pulumi.StringOutput),
	}, parent, keep, pulumi.DependsOn([]pulumi.Resource{publicBlock, encryption}))
	if err != nil {
		return nil, err
	}

	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-trail-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(names.TrailLogGroup()),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.AuditKeyARN,
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	// The trust names CloudTrail without aws:SourceArn or aws:SourceAccount conditions: the
	// CloudTrail guide says confused-deputy prevention is not applicable to this role and that
	// it does not support those keys, so such a condition risks refusing CloudTrail itself and
	// blinding every trail rule. What limits the role instead: CreateTrail only takes a role of
	// the caller's own account (and the caller needs iam:PassRole on it), and the role may only
	// write the trail's streams in this one log group (trailDeliveryPolicy).
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
	// https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html#awscloudtrail-CreateTrail-request-CloudWatchLogsRoleArn
	role, err := iam.NewRole(ctx, name+"-trail-to-logs", &iam.RoleArgs{
		Description:      pulumi.String("kmswatch CloudTrail delivery to its CloudWatch Logs group"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("cloudtrail.amazonaws.com")),
	}, parent)
	if err != nil {
		return nil, err
	}
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-trail-to-logs-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: logGroup.Arn.ApplyT(func(arn string) string { return trailDeliveryPolicy(env, arn).JSON() }).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, err
	}

	trail, err := cloudtrail.NewTrail(ctx, name+"-trail", &cloudtrail.TrailArgs{
		Name:                    pulumi.String(names.Trail()),
		S3BucketName:            bucket.ID(),
		KmsKeyId:                args.AuditKeyARN,
		EnableLogFileValidation: pulumi.Bool(true),
		// Every Region into this one log group: a key used or disabled from another Region is seen,
		// and Security Hub's CloudWatch.7 (CIS 3.7/4.7) requires an active multi-Region trail with
		// read and write management events and no kms.amazonaws.com exclusion.
		// https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-7
		// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html
		IncludeGlobalServiceEvents: pulumi.Bool(true),
		IsMultiRegionTrail:         pulumi.Bool(true),
		EnableLogging:              pulumi.Bool(true),
		// All management events, read and write, KMS included: Decrypt and GenerateDataKey are
		// read events, and excluding kms.amazonaws.com would blind every rule.
		EventSelectors: cloudtrail.TrailEventSelectorArray{cloudtrail.TrailEventSelectorArgs{
			ReadWriteType:           pulumi.String("All"),
			IncludeManagementEvents: pulumi.Bool(true),
		}},
		// CloudTrail wants the log group ARN with the ":*" stream wildcard.
		// https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html#awscloudtrail-CreateTrail-request-CloudWatchLogsLogGroupArn
		CloudWatchLogsGroupArn: pulumi.Sprintf("%s:*", logGroup.Arn),
		CloudWatchLogsRoleArn:  role.Arn,
	}, parent,
		// CreateTrail fails with InsufficientS3BucketPolicyException unless the bucket policy is in
		// place, and with InvalidCloudWatchLogsRoleArnException before the role may write.
		pulumi.DependsOn([]pulumi.Resource{bucketPolicy, rolePolicy, encryption}))
	if err != nil {
		return nil, err
	}

	a.TrailName = trail.Name
	a.TrailARN = trail.Arn
	a.TrailLogGroupName = logGroup.Name
	a.BucketName = bucket.Bucket
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{
		"trailName":         a.TrailName,
		"trailArn":          a.TrailARN,
		"trailLogGroupName": a.TrailLogGroupName,
		"bucketName":        a.BucketName,
	})
}

// trailBucketPolicy lets this trail, and only it, check the bucket ACL and write its log files
// under AWSLogs/<account>/, and refuses any request without TLS.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
func trailBucketPolicy(env awsEnv, bucketARN, trailARN string) policyDocument {
	return newPolicy(
		allow("CloudTrailAclCheck", "s3:GetBucketAcl").forService("cloudtrail.amazonaws.com").on(bucketARN).
			when("StringEquals", "aws:SourceArn", trailARN),
		allow("CloudTrailWrite", "s3:PutObject").forService("cloudtrail.amazonaws.com").
			on(bucketARN+"/AWSLogs/"+env.Account+"/*").
			when("StringEquals", "s3:x-amz-acl", "bucket-owner-full-control").
			when("StringEquals", "aws:SourceArn", trailARN),
		deny("DenyInsecureTransport", "s3:*").forAWS("*").on(bucketARN, bucketARN+"/*").
			when("Bool", "aws:SecureTransport", "false"),
	)
}

// trailDeliveryPolicy lets CloudTrail create its stream in the trail's log group and write to it.
// CloudTrail names the stream <account>_CloudTrail_<trail region>, with _<number> added when it
// needs more than one: the trail's home Region, also for events from the other Regions.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudwatch-log-group-log-stream-naming-for-cloudtrail.html
func trailDeliveryPolicy(env awsEnv, logGroupARN string) policyDocument {
	streams := logGroupARN + ":log-stream:" + env.Account + "_CloudTrail_" + env.Region + "*"
	return newPolicy(
		allow("CreateTrailLogStream", "logs:CreateLogStream").on(streams),
		allow("PutTrailLogEvents", "logs:PutLogEvents").on(streams),
	)
}

// useBroughtTrail checks what can be checked at deploy time of the account's own trail: its log
// group exists in this Region (the metric filters go there). Whether that trail is multi-Region,
// logging, and records read and write management events is the README's list to check by hand.
func (a *Audit) useBroughtTrail(ctx *pulumi.Context, t broughtTrail) error {
	group, err := cloudwatch.LookupLogGroup(ctx, &cloudwatch.LookupLogGroupArgs{Name: t.LogGroupName})
	if err != nil {
		return fmt.Errorf("trailLogGroupName %q: no such log group in this Region (the metric filters need it): %w", t.LogGroupName, err)
	}
	a.TrailName = pulumi.String("").ToStringOutput()
	a.TrailARN = pulumi.String("").ToStringOutput()
	a.TrailLogGroupName = pulumi.String(group.Name).ToStringOutput()
	a.BucketName = pulumi.String(t.BucketName).ToStringOutput()
	return ctx.RegisterResourceOutputs(a, pulumi.Map{
		"trailLogGroupName": a.TrailLogGroupName,
		"bucketName":        a.BucketName,
	})
}
