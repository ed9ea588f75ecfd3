package rules

import "time"

// The five shipped rules. Each definition carries its own test records (positive and negative);
// the AWS-published samples in testdata/cloudtrail are named by file.

// labTaskRole is the task role in the lab's walkthrough and in the AWS samples.
const labTaskRole = "arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole"

var labParams = Params{TaskRoleARN: labTaskRole}

// Every log rule's alarm tolerates data that reaches CloudWatch Logs up to 20 minutes late.
//
// CloudTrail "typically delivers logs within an average of about 5 minutes of an API call. This
// time is not guaranteed", on the page that covers delivery to the S3 bucket and the CloudWatch Logs
// log group alike; the lab warns of up to 15 minutes.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-working-with-log-files.html
// A late event can land in a past period: CloudTrail's guide says the log group shows "when the
// event was delivered", but CloudWatch Logs does not document which timestamp a metric filter
// gives its data point, so the rules assume the worst, the event's own time.
// An alarm "is evaluated every minute" over the last EvaluationPeriods periods, and a burst counts
// only while it lies in them: with one 60 s period, a burst that arrives 6 minutes late is never
// looked at again. So each alarm looks back N periods and goes to ALARM on M = 1 breaching
// period among them ("M out of N"; the breaching periods "don't have to be consecutive"), which
// keeps the lab's meaning, "more than one error" in a minute, and tolerates (N-1) periods of
// delay: 20 minutes, the lab's 15 and 5 to spare for the per-minute aggregation and the
// evaluation's own timing, which AWS does not document to the minute. The price: the alarm
// stays in ALARM, and the OK email waits, until the burst has left the N periods.
// Missing data is notBreaching (see AlarmSpec): a period with no matching events is healthy.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data
const lateDataTolerance = 20 * time.Minute

// tolerant is the firing for count per period that fires on one breaching period and looks back
// far enough to see it lateDataTolerance late.
func tolerant(period time.Duration, count float64) Firing {
	return Firing{Period: period, EvaluationPeriods: 1 + int(lateDataTolerance/period), DatapointsToAlarm: 1, Threshold: count}
}

// exampleKeys are the key and alias of the KMS Developer Guide's examples.
const exampleKeyARN = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var exampleKeys = Params{KeyARNs: []string{exampleKeyARN}, KeyAliases: []string{"alias/ExampleAlias"}}

// keyCall is a KMS call record with the given request parameters and no resources.
func keyCall(name, requestParameters string) string {
	return `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"` + name +
		`","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/Alice"},"requestParameters":` + requestParameters + `}`
}

// replayOnly keeps a condition out of the deployed patterns.
func replayOnly(c cond) cond {
	c.replayOnly = true
	return c
}

const (
	fieldErrorCode = "errorCode"
	fieldSource    = "eventSource"
	fieldName      = "eventName"
	fieldIssuer    = "userIdentity.sessionContext.sessionIssuer.arn"
	kmsSource      = "kms.amazonaws.com"
)

func appKMSErrors() Rule {
	return Rule{
		ID:          "app-kms-errors",
		Title:       "KMS errors by the app's task role",
		Description: "Any KMS call by the app's ECS task role that failed (errorCode present): wrong key, disabled key, denied. The lab's rule.",
		Severity:    High,
		Source:      TrailLogs,
		MetricName:  "AppKmsErrors",
		// The lab alarms when errors are "greater than 1" in its period; metric filters publish per
		// minute. 1 of 21 one-minute periods: the lab's alarm, 20 minutes tolerant of late data.
		Firing:     tolerant(time.Minute, 2),
		Runbook:    "Find the failing calls in CloudTrail (eventName, errorCode, requestParameters.keyId). Repeated IncorrectKeyException means someone is trying ciphertexts or keys that are not theirs: look at the app's decrypt_failed log lines for the caller.",
		References: []string{"https://wellarchitectedlabs.com/security/300_labs/300_autonomous_monitoring_of_cryptographic_activity_with_kms/"},
		when: []cond{
			present(fieldErrorCode),
			equals(fieldSource, kmsSource),
			equalsParam(fieldIssuer, paramTaskRole),
		},
		style: styleLab,
		cases: []Case{
			{Name: "lab walkthrough: Decrypt IncorrectKeyException by the task role", Sample: "lab-decrypt-incorrectkey-taskrole.json", Params: labParams, Want: true},
			{Name: "IncorrectKeyException by an IAM user is not the app", Sample: "kms-decrypt-incorrectkey-iamuser.json", Params: labParams, Want: false},
			{Name: "successful Decrypt by an IAM user", Sample: "kms-decrypt-success-iamuser.json", Params: labParams, Want: false},
			{Name: "the task role's error without a role ARN given matches nothing", Sample: "lab-decrypt-incorrectkey-taskrole.json", Params: Params{}, Want: false},
			{Name: "the task role's error seen with another role ARN", Sample: "lab-decrypt-incorrectkey-taskrole.json", Params: Params{TaskRoleARN: "arn:aws:iam::111122223333:role/other"}, Want: false},
			{Name: "the task role's AccessDenied on Secrets Manager is not a KMS error", Params: labParams, Want: false,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"secretsmanager.amazonaws.com","eventName":"GetSecretValue","errorCode":"AccessDenied","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
			{Name: "the task role's successful Encrypt", Params: labParams, Want: false,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Encrypt","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
			{Name: "the task role's DisabledException on Encrypt", Params: labParams, Want: true,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Encrypt","errorCode":"DisabledException","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
			{Name: "an errorCode of null is no error", Params: labParams, Want: false,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","errorCode":null,"userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
		},
	}
}

func keyDisableOrDelete() Rule {
	return Rule{
		ID:          "kms-key-disable-or-delete",
		Title:       "KMS key disabled or scheduled for deletion",
		Description: "CIS AWS Foundations Benchmark: a customer managed key was disabled or scheduled for deletion; data under it becomes unreadable.",
		Severity:    Critical,
		Source:      TrailLogs,
		MetricName:  "KmsKeyDisableOrDelete",
		Firing:      tolerant(5*time.Minute, 1), // 5 minutes: the period of CloudTrail's own alarm examples
		Runbook:     "Confirm with the key's owner that the change was intended. If not: EnableKey or CancelKeyDeletion at once (the pending window is 7-30 days), then find who made the call and revoke their access.",
		References: []string{
			"https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html",
			"https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudwatch-alarms-for-cloudtrail.html",
		},
		when: []cond{
			equals(fieldSource, kmsSource),
			equals(fieldName, "DisableKey", "ScheduleKeyDeletion"),
			// The deployed filter stays the CIS text verbatim, which Security Hub's CloudWatch.7
			// checks, so it watches every key of the account; --key-arn scopes it in replay only.
			replayOnly(keyScope()),
		},
		style:  styleCIS,
		notify: true, // critical: also tell a person at once, not only after the metric period
		cases: []Case{
			{Name: "DisableKey by an IAM user", Sample: "kms-disablekey.json", Want: true},
			{Name: "ScheduleKeyDeletion by an IAM user", Sample: "kms-schedulekeydeletion.json", Want: true},
			{Name: "DeleteKey service event is not in the CIS pattern", Sample: "kms-deletekey-serviceevent.json", Want: false},
			{Name: "PutKeyPolicy is another rule's", Sample: "kms-putkeypolicy.json", Want: false},
			{Name: "Decrypt is no key change", Sample: "kms-decrypt-success-iamuser.json", Want: false},
			{Name: "DisableKey by the app's role fires too", Params: labParams, Want: true,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"DisableKey","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
			{Name: "a DisableKey that was denied still counts, as in the CIS pattern", Want: true,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"DisableKey","errorCode":"AccessDeniedException"}`},
		},
	}
}

func appDecryptVolume() Rule {
	return Rule{
		ID:          "app-decrypt-volume",
		Title:       "Unusually many successful decrypts by the app's task role",
		Description: "Successful Decrypt calls (no errorCode) by the app's task role above a count per period: a sign of bulk reads, i.e. exfiltration through the app or its credentials.",
		Severity:    High,
		Source:      TrailLogs,
		MetricName:  "AppDecryptVolume",
		// Tune against history with `kmswatch replay`; stack config overrides it.
		Firing:   tolerant(5*time.Minute, 1000),
		Runbook:  "Compare with the app's request rate. If the app did not serve that many decrypts, its task role credentials are used elsewhere: look at sourceIPAddress and userAgent of the Decrypt records, and rotate the task.",
		adaptive: true, // appDecryptVolumeAnomalyBand: a band instead of the fixed count
		when: []cond{
			equals(fieldSource, kmsSource),
			equals(fieldName, "Decrypt"),
			absent(fieldErrorCode),
			equalsParam(fieldIssuer, paramTaskRole),
		},
		style: styleLab,
		cases: []Case{
			{Name: "the task role's successful Decrypt", Params: labParams, Want: true,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
			{Name: "the task role's failed Decrypt is not volume", Sample: "lab-decrypt-incorrectkey-taskrole.json", Params: labParams, Want: false},
			{Name: "an IAM user's successful Decrypt", Sample: "kms-decrypt-success-iamuser.json", Params: labParams, Want: false},
			{Name: "the EC2 infrastructure role's Decrypt is not the app", Sample: "ebs-attach-encrypted-volume.json", Params: labParams, Want: false},
			{Name: "the task role's Encrypt", Params: labParams, Want: false,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Encrypt","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"` + labTaskRole + `"}}}}`},
		},
	}
}

func appDecryptDenied() Rule {
	return Rule{
		ID:          "app-decrypt-denied",
		Title:       "The app refused decrypt requests",
		Description: `The app's own security log: "decrypt_failed" lines whose reason is the caller's doing (KMS refused the key, unknown name, malformed request), including attempts that never reach KMS. Outages (kms_unavailable, store_unavailable) are not probing and are left out.`,
		Severity:    Medium,
		Source:      AppLogs,
		MetricName:  "AppDecryptDenied",
		Firing:      tolerant(5*time.Minute, 5), // the same tolerance for the app's own log group
		Runbook:     "Read the decrypt_failed lines in the app's log group (client_ip, name_sha256, kms_error): the same client trying many names or keys is probing. Block the client at the load balancer if it keeps on.",
		when: []cond{
			equals("event", "decrypt_failed"),
			equals("reason", "kms_refused", "unknown_name", "invalid_request"),
		},
		style: styleLab,
		// Lines as app/http writes them (see decryptFailed there).
		cases: []Case{
			{Name: "KMS refused the caller's key", Want: true,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"kms_refused","status":403,"client_ip":"10.0.1.23","name_sha256":"cd9fb1e148ccd844","kms_error":"IncorrectKeyException"}`},
			{Name: "an unknown name never reaches KMS but is counted", Want: true,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"unknown_name","status":404,"client_ip":"10.0.1.23","name_sha256":"cd9fb1e148ccd844"}`},
			{Name: "a malformed request is counted", Want: true,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"invalid_request","status":400,"client_ip":"10.0.1.23","error_code":"invalid"}`},
			{Name: "a KMS outage is not probing", Want: false,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"ERROR","msg":"decrypt failed","event":"decrypt_failed","reason":"kms_unavailable","status":503,"client_ip":"10.0.1.23","kms_error":"ThrottlingException"}`},
			{Name: "a database outage is not probing", Want: false,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"ERROR","msg":"decrypt failed","event":"decrypt_failed","reason":"store_unavailable","status":503,"client_ip":"10.0.1.23"}`},
			{Name: "an encrypt_failed line", Want: false,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"ERROR","msg":"encrypt failed","event":"encrypt_failed","status":503,"kms_error":"DisabledException"}`},
			{Name: "a line without event", Want: false,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"INFO","msg":"decrypt_failed"}`},
			{Name: "a CloudTrail error record is not an app line", Sample: "lab-decrypt-incorrectkey-taskrole.json", Params: labParams, Want: false},
		},
	}
}

func keyPolicyChange() Rule {
	return Rule{
		ID:          "kms-key-policy-change",
		Title:       "Access to a KMS key changed",
		Description: "PutKeyPolicy, CreateGrant, DisableKeyRotation, DeleteAlias or UpdateAlias on the stack's keys: who may use the key, or which key the app's alias points at, changed.",
		Severity:    Critical,
		Source:      EventBridge,
		Firing:      Firing{Immediate: true},
		Runbook:     "Check the change against the stack (pulumi preview shows drift). An unexpected grant or policy can be undone with RevokeGrant or PutKeyPolicy; an alias moved to another key redirects the app's encryption: point it back.",
		References:  []string{"https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html"},
		when: []cond{
			equals(fieldSource, kmsSource),
			equals(fieldName, "PutKeyPolicy", "CreateGrant", "DisableKeyRotation", "DeleteAlias", "UpdateAlias"),
			keyScope(),
		},
		style: styleLab,
		cases: []Case{
			{Name: "PutKeyPolicy by an IAM user", Sample: "kms-putkeypolicy.json", Want: true},
			{Name: "CreateGrant by an IAM user", Sample: "kms-creategrant.json", Want: true},
			{Name: "the CreateGrant in the EBS log file", Sample: "ebs-attach-encrypted-volume.json", Want: true},
			{Name: "PutKeyPolicy on one of the stack's keys", Sample: "kms-putkeypolicy.json", Want: true,
				Params: Params{KeyARNs: []string{"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}},
			{Name: "PutKeyPolicy on a key outside the stack", Sample: "kms-putkeypolicy.json", Want: false,
				Params: Params{KeyARNs: []string{"arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"}}},
			{Name: "DisableKey is the CIS rule's", Sample: "kms-disablekey.json", Want: false},
			{Name: "UpdateAlias lists the key among its resources", Want: true,
				Params: Params{KeyARNs: []string{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"UpdateAlias","resources":[{"ARN":"arn:aws:kms:us-east-1:111122223333:alias/app"},{"ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}`},
			{Name: "Decrypt is no access change", Sample: "kms-decrypt-success-iamuser.json", Want: false},
			// One record per form a call may name the key in, none with resources, as entries before
			// December 2022 may have none (see keyScope).
			{Name: "PutKeyPolicy naming the key by its ARN, no resources", Params: exampleKeys, Want: true,
				Record: keyCall("PutKeyPolicy", `{"keyId":"`+exampleKeyARN+`","policyName":"default"}`)},
			{Name: "CreateGrant naming the key by its id, no resources", Params: exampleKeys, Want: true,
				Record: keyCall("CreateGrant", `{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","operations":["Decrypt"]}`)},
			{Name: "DisableKeyRotation naming the key by its alias name", Params: exampleKeys, Want: true,
				Record: keyCall("DisableKeyRotation", `{"keyId":"alias/ExampleAlias"}`)},
			{Name: "CreateGrant naming the key by its alias ARN", Params: exampleKeys, Want: true,
				Record: keyCall("CreateGrant", `{"keyId":"arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias"}`)},
			{Name: "DeleteAlias of the stack's alias, named in aliasName", Params: exampleKeys, Want: true,
				Record: keyCall("DeleteAlias", `{"aliasName":"alias/ExampleAlias"}`)},
			{Name: "UpdateAlias moving the stack's alias to another key", Params: exampleKeys, Want: true,
				Record: keyCall("UpdateAlias", `{"aliasName":"alias/ExampleAlias","targetKeyId":"0987dcba-09fe-87dc-65ba-ab0987654321"}`)},
			{Name: "UpdateAlias pointing another alias at the stack's key (targetKeyId)", Params: exampleKeys, Want: true,
				Record: keyCall("UpdateAlias", `{"aliasName":"alias/other","targetKeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`)},
			{Name: "DeleteAlias with only the alias ARN in resources", Params: exampleKeys, Want: true,
				Record: `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"DeleteAlias","resources":[{"ARN":"arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias"}]}`},
			{Name: "UpdateAlias of another alias to another key", Params: exampleKeys, Want: false,
				Record: keyCall("UpdateAlias", `{"aliasName":"alias/other","targetKeyId":"0987dcba-09fe-87dc-65ba-ab0987654321"}`)},
			{Name: "PutKeyPolicy naming another key by its ARN", Params: exampleKeys, Want: false,
				Record: keyCall("PutKeyPolicy", `{"keyId":"arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"}`)},
		},
	}
}
