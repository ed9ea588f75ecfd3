package main

import (
	"reflect"
	"slices"
	"testing"
)

func TestTrailRecordsAllManagementEventsIncludingKMS(t *testing.T) {
	run := mustRun(t, baseConfig())
	trail := run.one("aws:cloudtrail/trail:Trail")
	if !trail.boolean("enableLogFileValidation") {
		t.Error("log file validation off")
	}
	if !trail.boolean("includeGlobalServiceEvents") {
		t.Error("global service events (IAM) not recorded")
	}
	if trail.in("enableLogging") == false {
		t.Error("logging disabled")
	}
	selectors, _ := trail.in("eventSelectors").([]any)
	if len(selectors) != 1 || get(selectors[0], "readWriteType") != "All" || get(selectors[0], "includeManagementEvents") != true {
		t.Fatalf("event selectors %v, want all management events, read and write", selectors)
	}
	// Decrypt and GenerateDataKey are read-only management events of kms.amazonaws.com.
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html
	for _, excluded := range trail.strings("eventSelectors", 0, "excludeManagementEventSources") {
		if excluded == "kms.amazonaws.com" {
			t.Error("KMS events excluded: every rule would be blind")
		}
	}
	if trail.in("advancedEventSelectors") != nil {
		t.Error("advanced selectors would replace the basic ones")
	}
}

func TestTrailDeliversToItsLogGroupAndWaitsForItsBucketPolicy(t *testing.T) {
	run := mustRun(t, baseConfig())
	trail := run.one("aws:cloudtrail/trail:Trail")
	logGroup := run.named("aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs")
	// CreateTrail takes the log group ARN with the stream wildcard.
	// https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
	if got, want := trail.str("cloudWatchLogsGroupArn"), logGroup.outStr("arn")+":*"; got != want {
		t.Errorf("trail delivers to %q, want %q", got, want)
	}
	role := run.named("aws:iam/role:Role", "audit-trail-to-logs")
	if trail.str("cloudWatchLogsRoleArn") != role.outStr("arn") {
		t.Error("trail does not use its delivery role")
	}
	bucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket")
	if trail.str("s3BucketName") != bucket.outStr("bucket") {
		t.Errorf("trail writes to %q, want the stack's bucket %q", trail.str("s3BucketName"), bucket.outStr("bucket"))
	}
	// Without the policy in place AWS rejects CreateTrail (InsufficientS3BucketPolicyException),
	// and without the role's permissions (InvalidCloudWatchLogsRoleArnException).
	for _, dep := range []*recorded{run.named("aws:s3/bucketPolicy:BucketPolicy", "audit-trail-bucket-policy"), run.named("aws:iam/rolePolicy:RolePolicy", "audit-trail-to-logs-policy")} {
		if !trail.dependsOn(dep) {
			t.Errorf("trail does not depend on %s %s", dep.Type, dep.Name)
		}
	}
}

func TestTrailDeliveryRoleMayOnlyWriteItsStreams(t *testing.T) {
	run := mustRun(t, baseConfig())
	role := run.named("aws:iam/role:Role", "audit-trail-to-logs")
	trust := role.policy(t, "assumeRolePolicy")
	if len(trust.Statement) != 1 || !reflect.DeepEqual(trust.Statement[0].Principal.Service, stringList{"cloudtrail.amazonaws.com"}) ||
		!reflect.DeepEqual(trust.Statement[0].Action, stringList{"sts:AssumeRole"}) {
		t.Errorf("trust %+v, want CloudTrail only", trust)
	}
	// AWS: confused-deputy prevention is not applicable to this role, which doesn't support
	// aws:SourceArn and aws:SourceAccount; a condition on them could refuse CloudTrail's delivery.
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
	for op, keys := range trust.Statement[0].Condition {
		for key := range keys {
			t.Errorf("trust condition %s %s: CloudTrail's delivery to CloudWatch Logs does not support it", op, key)
		}
	}
	policy := run.named("aws:iam/rolePolicy:RolePolicy", "audit-trail-to-logs-policy")
	if policy.str("role") != role.outStr("name") {
		t.Error("delivery policy not on the delivery role")
	}
	lgARN := run.named("aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs").outStr("arn")
	streams := lgARN + ":log-stream:" + mockAccount + "_CloudTrail_" + mockRegion + "*"
	var actions []string
	for _, s := range policy.policy(t, "policy").Statement {
		actions = append(actions, s.Action...)
		if !reflect.DeepEqual(s.Resource, stringList{streams}) {
			t.Errorf("statement %s on %v, want the trail's streams %s", s.Sid, s.Resource, streams)
		}
	}
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) {
		t.Errorf("delivery role may %v, want CreateLogStream and PutLogEvents only", actions)
	}
}

func TestTrailBucketIsPrivateEncryptedAndWritableByTheTrailOnly(t *testing.T) {
	run := mustRun(t, baseConfig())
	bucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket")
	block := run.named("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "audit-trail-bucket-public-access")
	for _, setting := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !block.boolean(setting) {
			t.Errorf("public access block %s off", setting)
		}
	}
	if block.str("bucket") != bucket.outStr("bucket") {
		t.Error("public access block on another bucket")
	}
	// Log files: SSE-KMS under the audit key, set on the trail so CloudTrail writes them with its
	// encryption context, the only one the key policy accepts from CloudTrail. Bucket default:
	// SSE-S3, which needs no key policy, for anything written without its own setting; an
	// SSE-KMS default with the audit key would be refused by that key policy.
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html
	sse := run.named("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "audit-trail-bucket-sse")
	if sse.str("bucket") != bucket.outStr("bucket") {
		t.Error("default encryption set on another bucket")
	}
	byDefault := sse.in("rules", 0, "applyServerSideEncryptionByDefault")
	if get(byDefault, "sseAlgorithm") != "AES256" || get(byDefault, "kmsMasterKeyId") != nil || sse.in("rules", 0, "bucketKeyEnabled") != false {
		t.Errorf("bucket default encryption %v, want SSE-S3 (AES256) without a KMS key or bucket key", sse.in("rules"))
	}
	auditKey := run.named("aws:kms/key:Key", "keys-audit")
	if got := run.one("aws:cloudtrail/trail:Trail").str("kmsKeyId"); got != auditKey.outStr("arn") {
		t.Errorf("trail encrypts log files with %q, want the audit key", got)
	}
	for _, s := range keyStatementsFor(auditKey.policy(t, "policy"), "cloudtrail.amazonaws.com") {
		if slices.ContainsFunc(s.Action, func(a string) bool { return grants(a, "kms:GenerateDataKey") }) &&
			s.Condition["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"] == nil {
			t.Errorf("statement %s lets CloudTrail encrypt without its encryption context", s.Sid)
		}
	}
	if run.named("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "audit-trail-bucket-ownership").str("rule", "objectOwnership") != "BucketOwnerEnforced" {
		t.Error("ACLs still enabled on the bucket")
	}

	policyRes := run.named("aws:s3/bucketPolicy:BucketPolicy", "audit-trail-bucket-policy")
	policy := policyRes.policy(t, "policy")
	trailARN := run.one("aws:cloudtrail/trail:Trail").outStr("arn")
	bucketARN := bucket.outStr("arn")
	// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
	acl := statementBySid(t, policy, "CloudTrailAclCheck")
	write := statementBySid(t, policy, "CloudTrailWrite")
	for _, s := range []statement{acl, write} {
		if !reflect.DeepEqual(s.Principal.Service, stringList{"cloudtrail.amazonaws.com"}) ||
			!reflect.DeepEqual(s.Condition["StringEquals"]["aws:SourceArn"], stringList{trailARN}) {
			t.Errorf("%s: %+v, want CloudTrail scoped to this trail's ARN %s", s.Sid, s, trailARN)
		}
	}
	if !reflect.DeepEqual(acl.Resource, stringList{bucketARN}) || !reflect.DeepEqual(acl.Action, stringList{"s3:GetBucketAcl"}) {
		t.Errorf("ACL check %+v", acl)
	}
	if !reflect.DeepEqual(write.Resource, stringList{bucketARN + "/AWSLogs/" + mockAccount + "/*"}) ||
		!reflect.DeepEqual(write.Condition["StringEquals"]["s3:x-amz-acl"], stringList{"bucket-owner-full-control"}) {
		t.Errorf("write %+v, want PutObject under AWSLogs/<account>/ with bucket-owner-full-control", write)
	}
	tls := statementBySid(t, policy, "DenyInsecureTransport")
	if tls.Effect != "Deny" || !reflect.DeepEqual(tls.Condition["Bool"]["aws:SecureTransport"], stringList{"false"}) {
		t.Errorf("TLS statement %+v", tls)
	}
	if !policyRes.dependsOn(block) {
		t.Error("bucket policy must follow the public access block")
	}
}

func TestLogGroupsKeepTheConfiguredRetention(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"logRetentionDays": "365"}))
	groups := run.all("aws:cloudwatch/logGroup:LogGroup")
	if len(groups) != 3 {
		t.Fatalf("%d log groups, want the trail's, the app's and the responder's", len(groups))
	}
	for _, lg := range groups {
		days := int(lg.num("retentionInDays"))
		if days != 365 || !slices.Contains(logRetentionDays, days) {
			t.Errorf("log group %s keeps %d days, want 365", lg.str("name"), days)
		}
	}
	expiry := run.named("aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "audit-trail-bucket-expiry")
	if expiry.num("rules", 0, "expiration", "days") != 365 || expiry.str("rules", 0, "status") != "Enabled" {
		t.Errorf("trail log files expire %v", expiry.in("rules"))
	}
}
