package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudtrail"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AuditArgs: where the trail delivers and how long it keeps what it delivers.
type AuditArgs struct {
	Env              awsEnv
	Names            stackNames
	AuditKeyARN      pulumi.StringInput
	LogRetentionDays int
	Protect          bool
}

// Audit is the CloudTrail trail that records the account's management events (KMS included)
// into an encrypted S3 bucket and into a CloudWatch Logs group that metric filters watch.
type Audit struct {
	pulumi.ResourceState

	TrailName         pulumi.StringOutput
	TrailARN          pulumi.StringOutput
	TrailLogGroupName pulumi.StringOutput
	BucketName        pulumi.StringOutput
}

func newAudit(ctx *pulumi.Context, name string, args AuditArgs, opts ...pulumi.ResourceOption) (*Audit, error) {
	a := &Audit{}
	if err := ctx.RegisterComponentResource("kmswatch:audit:Audit", name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
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
	}, parent)
	if err != nil {
		return nil, err
	}
	ownership, err := s3.NewBucketOwnershipControls(ctx, name+"-trail-bucket-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent, pulumi.DependsOn([]pulumi.Resource{publicBlock}))
	if err != nil {
		return nil, err
	}
	// SSE-KMS with the audit key for anything written without CloudTrail's own key setting. No S3
	// Bucket Key: with one, CloudTrail would also need kms:Decrypt to validate the trail.
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
	encryption, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-trail-bucket-sse", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm:   pulumi.String("aws:kms"),
				KmsMasterKeyId: args.AuditKeyARN,
			},
			BucketKeyEnabled: pulumi.Bool(false),
		}},
	}, parent, pulumi.DependsOn([]pulumi.Resource{ownership}))
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
	}, parent, pulumi.DependsOn([]pulumi.Resource{encryption})); err != nil {
		return nil, err
	}
	bucketPolicy, err := s3.NewBucketPolicy(ctx, name+"-trail-bucket-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(bucketARN string) string {
			return trailBucketPolicy(env, bucketARN, trailARN).JSON()
		}).(pulumi.StringOutput),
	}, parent, pulumi.DependsOn([]pulumi.Resource{publicBlock, encryption}))
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
		Name:                       pulumi.String(names.Trail()),
		S3BucketName:               bucket.ID(),
		KmsKeyId:                   args.AuditKeyARN,
		EnableLogFileValidation:    pulumi.Bool(true),
		IncludeGlobalServiceEvents: pulumi.Bool(true),
		IsMultiRegionTrail:         pulumi.Bool(false),
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
// CloudTrail names the stream <account>_CloudTrail_<region>.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
func trailDeliveryPolicy(env awsEnv, logGroupARN string) policyDocument {
	streams := logGroupARN + ":log-stream:" + env.Account + "_CloudTrail_" + env.Region + "*"
	return newPolicy(
		allow("CreateTrailLogStream", "logs:CreateLogStream").on(streams),
		allow("PutTrailLogEvents", "logs:PutLogEvents").on(streams),
	)
}
