package main

import (
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newResultsBucket is where the workgroup writes query results: encrypted by default with the audit
// key (Athena also asks for SSE-KMS with it on every write), no public access, TLS only, and
// expired after a week.
func newResultsBucket(ctx *pulumi.Context, name string, env awsEnv, names stackNames, auditKeyARN pulumi.StringInput, parent pulumi.ResourceOption) (*s3.BucketV2, error) {
	bucket, err := s3.NewBucketV2(ctx, name+"-results", &s3.BucketV2Args{
		Bucket:       pulumi.String(names.AthenaResultsBucket(env)),
		ForceDestroy: pulumi.Bool(true), // results are copies of what the trail keeps
	}, parent)
	if err != nil {
		return nil, err
	}
	block, err := s3.NewBucketPublicAccessBlock(ctx, name+"-results-public-access", &s3.BucketPublicAccessBlockArgs{
		Bucket:          bucket.ID(),
		BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
		IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-results-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent); err != nil {
		return nil, err
	}
	// An S3 Bucket Key: one data key per bucket and period instead of one KMS call per object.
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-results-sse", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm:   pulumi.String("aws:kms"),
				KmsMasterKeyId: auditKeyARN,
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, parent); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-results-expiry", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:                             pulumi.String("expire-query-results"),
			Status:                         pulumi.String("Enabled"),
			Filter:                         &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			Expiration:                     &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(resultsExpiryDays)},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{DaysAfterInitiation: pulumi.Int(1)},
		}},
	}, parent); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPolicy(ctx, name+"-results-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(arn string) string {
			return newPolicy(deny("DenyInsecureTransport", "s3:*").forAWS("*").on(arn, arn+"/*").
				when("Bool", "aws:SecureTransport", "false")).JSON()
		}).(pulumi.StringOutput),
	}, parent, pulumi.DependsOn([]pulumi.Resource{block})); err != nil {
		return nil, err
	}
	return bucket, nil
}

// huntersPolicyArgs: the trail's bucket, key layout and keys, and the log groups to hunt over.
type huntersPolicyArgs struct {
	TrailBucket, TrailOrganizationID string
	Accounts                         []string // the account folders the table projects
	AuditKeyARN, TrailKeyARN         string   // TrailKeyARN: a brought trail's key, or ""
	TrailLogGroup, AppLogGroup       string
}

// huntersPolicy is what a person (or role) needs to run the saved queries, and no more: queries in
// the hunting workgroup only, the CloudTrail table's metadata, the trail's log files of the projected
// accounts (read, all their Regions), the workgroup's results (read and write), the audit key through
// S3 only (the stack's own trail's log files and the results are SSE-KMS under it: S3 decrypts and
// encrypts with the caller's permissions), a brought trail's key for decrypting through S3 only, and
// Logs Insights on the two log groups. Actions are listed one by one; "*" resources only where the
// action has no resource type (Logs Insights results, the console's lists).
// https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html
// https://docs.aws.amazon.com/athena/latest/ug/encryption.html
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
func huntersPolicy(env awsEnv, names stackNames, a huntersPolicyArgs) policyDocument {
	workgroupARN := env.arn("athena", "workgroup/"+names.HuntingWorkgroup())
	db := names.HuntingDatabase()
	trailARN := env.s3BucketARN(a.TrailBucket)
	resultsARN := env.s3BucketARN(names.AthenaResultsBucket(env))
	var trailFiles, trailPrefixes []string
	for _, account := range a.Accounts {
		prefix := trailKeyPrefix(a.TrailOrganizationID) + account + "/CloudTrail/*"
		trailFiles = append(trailFiles, trailARN+"/"+prefix)
		trailPrefixes = append(trailPrefixes, prefix)
	}
	viaS3 := "s3." + env.Region + ".amazonaws.com"
	var logGroups []string
	for _, g := range []string{a.TrailLogGroup, a.AppLogGroup} {
		logGroups = append(logGroups, env.logGroupARN(g), env.logGroupARN(g)+":*")
	}
	statements := []statement{
		allow("RunQueriesInTheHuntingWorkgroup",
			"athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
			"athena:BatchGetQueryExecution", "athena:ListQueryExecutions", "athena:GetWorkGroup",
			"athena:ListNamedQueries", "athena:GetNamedQuery", "athena:BatchGetNamedQuery").on(workgroupARN),
		allow("ReadTheCloudTrailTable", "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions").
			on(env.arn("glue", "catalog"), env.arn("glue", "database/"+db), env.arn("glue", "table/"+db+"/*")),
		allow("ReadTrailLogFiles", "s3:GetObject").on(trailFiles...),
		allow("ListTrailLogFiles", "s3:ListBucket").on(trailARN).when("StringLike", "s3:prefix", trailPrefixes...),
		allow("LocateTheBuckets", "s3:GetBucketLocation").on(trailARN, resultsARN),
		allow("WriteAndReadQueryResults", "s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts").
			on(resultsARN + "/results/*"),
		allow("ListQueryResults", "s3:ListBucket", "s3:ListBucketMultipartUploads").on(resultsARN),
		allow("UseTheAuditKeyThroughS3", "kms:Decrypt", "kms:GenerateDataKey").on(a.AuditKeyARN).
			when("StringEquals", "kms:ViaService", viaS3),
	}
	if a.TrailKeyARN != "" {
		// Reading only: S3 decrypts the brought trail's files with the caller's kms:Decrypt, in the
		// key's Region (an SSE-KMS key is in its bucket's Region). The key's own policy must also
		// allow this account; the stack cannot change it.
		// https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
		keyRegion := strings.Split(a.TrailKeyARN, ":")[3]
		statements = append(statements, allow("DecryptTheTrailsLogFilesThroughS3", "kms:Decrypt").on(a.TrailKeyARN).
			when("StringEquals", "kms:ViaService", "s3."+keyRegion+".amazonaws.com"))
	}
	statements = append(statements,
		allow("RunLogsInsightsOnTheStacksLogGroups", "logs:StartQuery").on(logGroups...),
		allow("ReadLogsInsightsResults", "logs:GetQueryResults", "logs:StopQuery", "logs:DescribeQueryDefinitions", "logs:DescribeLogGroups").on("*"),
	)
	return newPolicy(statements...)
}
