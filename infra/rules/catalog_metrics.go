package rules

import "time"

// The rules that do not wait for CloudTrail to reach CloudWatch Logs (issue 11): AWS/KMS's
// per-key request metric, alone and against the app's count of the decrypts it served, and the
// offline join that accounts for every Decrypt exactly.
//
// AWS/KMS publishes SuccessfulRequest: "The number of successful requests for cryptographic
// operations on a specific KMS key ... The Sum statistic for this metric defines the total number
// of successful requests during the period", with the dimensions KeyArn ("Value for each KMS
// key") and Operation ("Value for each AWS KMS API operation. This metric applies only to
// cryptographic operations"). Neither the KMS guide nor the Security Blog's launch post gives a
// resolution or a delivery delay (the guide calls the metrics "near real-time"); the alarms use
// 60 s periods and look back over enough of them to see a data point minutes late.
// https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html#key-level-api-usage-metric
// https://aws.amazon.com/blogs/security/aws-kms-cloudwatch-metrics-help-you-better-track-and-understand-how-your-kms-keys-are-being-used/
//
// What it sees and misses: successes only, per key and operation, from every caller (the app, a
// copy of its credentials, a person, an AWS service); no caller, no address, no failure. The
// trail has all of those, minutes later. AWS/Usage CallCount for KMS is "collected every minute"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Usage-Metrics.html)
// but counts an operation across the whole account and Region, every key and caller: no rule
// alarms on it, as the per-key metric counts the same calls for the app key alone.

// metricLateTolerance is how late an AWS/KMS data point may reach CloudWatch and still fire the
// alarms on it: AWS documents no delay for the per-key metric, so the alarms look back ten
// minutes, half what the trail's alarms allow for CloudTrail's documented "about 5 minutes". The
// price: the OK email waits until a burst has left the look-back.
const metricLateTolerance = 10 * time.Minute

const (
	kmsNamespace        = "AWS/KMS"
	kmsSuccessfulMetric = "SuccessfulRequest"
	// appServedMetric counts the app's decrypt_served lines, published by a metric filter.
	appServedMetric = "AppDecryptsServed"
)

// appKeyDecrypts are the CloudTrail records of what SuccessfulRequest counts for the app key's
// Decrypt operation: successful Decrypt calls whose resources name the key, by any caller.
func appKeyDecrypts() []cond {
	return []cond{
		equals(fieldSource, kmsSource),
		equals(fieldName, "Decrypt"),
		absent(fieldErrorCode),
		equalsParam("resources.ARN", paramAppKey),
	}
}

func kmsDecryptsInput() metricInput {
	return metricInput{id: "kms", label: "successful Decrypt calls on the app key (AWS/KMS SuccessfulRequest)",
		namespace: kmsNamespace, name: kmsSuccessfulMetric,
		dims: []metricDim{{name: "KeyArn", param: paramAppKey}, {name: "Operation", value: "Decrypt"}},
		when: appKeyDecrypts()}
}

// appKeyParams is the lab's task role with the KMS guide's example key as the app key.
var appKeyParams = Params{TaskRoleARN: labTaskRole, AppKeyARN: exampleKeyARN}

// otherKeyARN is a key that is not the app's.
const otherKeyARN = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"

// decryptRecord is a successful Decrypt of key by the task role, with its request id, from addr.
func decryptRecord(key, requestID, addr string) string {
	return `{"eventTime":"2026-11-24T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","sourceIPAddress":"` + addr +
		`","requestID":"` + requestID + `","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/task","sessionContext":{"sessionIssuer":{"arn":"` +
		labTaskRole + `"}}},"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"` + key + `"}]}`
}

// servedLine is the app's decrypt_served line for a request, as app/http writes it.
func servedLine(at, requestID string) string {
	return `{"time":"` + at + `","level":"INFO","msg":"decrypt served","event":"decrypt_served","kms_request_id":"` + requestID +
		`","name_sha256":"cd9fb1e148ccd844","client_ip":"203.0.113.7"}`
}

func appKeyDecryptRate() Rule {
	return Rule{
		ID:          "app-key-decrypt-rate",
		Title:       "Unusually many successful decrypts with the app key, per minute (AWS/KMS)",
		Description: "AWS/KMS's per-key count of successful Decrypt calls on the app key above a count per minute, a minute or two after the calls rather than CloudTrail's five: every caller, successes only, no caller or address (app-decrypt-volume has those, later).",
		Severity:    High,
		Source:      Metrics,
		// The trail rule's rate (1000 per 5 minutes) per minute; 1 of 11 one-minute periods, so that
		// a data point CloudWatch has up to metricLateTolerance late still fires the alarm.
		Firing:  Firing{Period: time.Minute, EvaluationPeriods: 1 + int(metricLateTolerance/time.Minute), DatapointsToAlarm: 1, Threshold: 200},
		Runbook: "Compare with the app's own count (kmswatch/app DecryptsServed, or app-decrypt-unserved). If the app did not serve them, find the callers in CloudTrail: Decrypt records on the app key, their userIdentity, sourceIPAddress and userAgent.",
		References: []string{
			"https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html#key-level-api-usage-metric",
			"https://aws.amazon.com/blogs/security/aws-kms-cloudwatch-metrics-help-you-better-track-and-understand-how-your-kms-keys-are-being-used/",
		},
		metrics:  &metricAlarm{inputs: []metricInput{kmsDecryptsInput()}},
		when:     appKeyDecrypts(),
		style:    styleLab,
		adaptive: true,
		cases: []Case{
			{Name: "a successful Decrypt of the app key by an IAM user counts: every caller does", Sample: "kms-decrypt-success-iamuser.json", Params: appKeyParams, Want: true},
			{Name: "the EC2 infrastructure role's Decrypt of the app key counts too", Sample: "ebs-attach-encrypted-volume.json", Params: appKeyParams, Want: true},
			{Name: "a successful Decrypt of another key", Sample: "kms-decrypt-success-iamuser.json", Params: Params{AppKeyARN: otherKeyARN}, Want: false},
			{Name: "a failed Decrypt is no successful request", Sample: "kms-decrypt-incorrectkey-iamuser.json", Params: appKeyParams, Want: false},
			{Name: "an Encrypt is another operation", Sample: "kms-encrypt-iamuser.json", Params: appKeyParams, Want: false},
			{Name: "without the app key nothing counts", Sample: "kms-decrypt-success-iamuser.json", Params: labParams, Want: false},
			{Name: "the task role's Decrypt of the app key", Params: appKeyParams, Want: true,
				Record: decryptRecord(exampleKeyARN, "a1b2c3d4-0000-4000-8000-000000000001", "192.0.2.44")},
		},
	}
}

// The tolerance of app-decrypt-unserved, from what makes KMS's count exceed the app's without
// misuse, per minute:
//   - an SDK retry after a lost response: KMS served the first call, the app logs the answer to
//     the retry; at most 4 more per request (app/kms NewRetryer: MaxAttempts 5);
//   - KMS answering after the app's deadline (5 s, app/kms DefaultTimeout): the app logs a
//     failure, KMS counts a success; one per timed-out request;
//   - lost log lines: the task definition sets awslogs mode blocking, which ECS documents as
//     blocking writes rather than dropping lines (infra/service.go); a task that dies before its
//     log driver has sent them loses what it buffered;
//   - minute edges: each count lands in the minute of its own timestamp (KMS's request time, the
//     line's time, milliseconds later), so a decrypt at hh:mm:59.99 moves +1 to this minute and
//     -1 to the next: about the decrypts of one call latency per minute;
//   - health checks: GET / and /healthz make no KMS call, /readyz asks the database only: none.
// So 5 in a minute breaches, and 2 of the last 12 minutes alarm (metricLateTolerance, as for the
// rate): a retry burst (4 at most) never breaches alone, an edge moves counts to the next minute
// rather than repeating, and a copy of the credentials decrypting a record a second breaches
// every minute. A served count that reaches CloudWatch later than KMS's leaves only the newest
// minute without it, one breaching point, as long as it is at most a minute later. The price: fewer than 5
// unexplained decrypts a minute go unseen here; app-decrypt-unmatched finds each one offline.

func appDecryptUnserved() Rule {
	return Rule{
		ID:          "app-decrypt-unserved",
		Title:       "Decrypts with the app key that the app did not serve",
		Description: "AWS/KMS's per-key count of successful Decrypt calls on the app key, minus the app's count of the decrypts it served (its decrypt_served lines), above a small tolerance: the app key used by someone other than the app, typically a copy of the task role's credentials. Minutes ahead of CloudTrail; no caller or address (app-decrypt-unmatched names them offline).",
		Severity:    Critical,
		Source:      Metrics,
		Firing:      Firing{Period: time.Minute, EvaluationPeriods: 2 + int(metricLateTolerance/time.Minute), DatapointsToAlarm: 2, Threshold: 5},
		Runbook:     "Someone decrypts with the app key outside the app. If the responder contains on this alarm, the task role's sessions are revoked already. Find the callers: kmswatch replay --role-arn <task role> on the trail and the app's log lists every Decrypt by the task role without a served line, with its caller, address and time.",
		References: []string{
			"https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html#key-level-api-usage-metric",
			"https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html",
		},
		metrics: &metricAlarm{
			inputs: []metricInput{
				kmsDecryptsInput(),
				{id: "served", label: "decrypts the app served (its decrypt_served lines)", name: appServedMetric,
					published: true, publishFrom: AppLogs, when: []cond{equals("event", "decrypt_served")}},
			},
			// "Missing values in a time series are treated as 0" in arithmetic: a minute with no
			// served count (the app down, its lines late) leaves the KMS count whole.
			exprID: "unserved", expression: "kms - served", label: "decrypts the app did not serve",
		},
		style:    styleLab,
		contains: true,
		cases: []Case{
			{Name: "a successful Decrypt of the app key counts on KMS's side", Sample: "kms-decrypt-success-iamuser.json", Params: appKeyParams, Want: true, Input: "kms"},
			{Name: "the app's decrypt_served line counts on the app's side", Params: appKeyParams, Want: true, Input: "served",
				Record: servedLine("2026-11-24T10:00:00.020Z", "a1b2c3d4-0000-4000-8000-000000000001")},
			{Name: "a failed Decrypt counts on neither side", Sample: "kms-decrypt-incorrectkey-iamuser.json", Params: appKeyParams, Want: false},
			{Name: "a Decrypt of another key counts on neither side", Sample: "kms-decrypt-success-iamuser.json", Params: Params{AppKeyARN: otherKeyARN}, Want: false},
			{Name: "a decrypt_failed line is no served decrypt", Params: appKeyParams, Want: false,
				Record: `{"time":"2026-11-24T10:00:00.123Z","level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"kms_refused","status":403}`},
		},
	}
}

func appDecryptUnmatched() Rule {
	return Rule{
		ID:          "app-decrypt-unmatched",
		Title:       "Decrypts by the task role without the app's served line (offline join)",
		Description: "Each successful CloudTrail Decrypt by the app's task role joined with the app's decrypt_served line of the same request id (kms_request_id = requestID); every Decrypt without one was made with the role's credentials for someone other than the app's callers. Exact, per request, with caller, address and time; replay only.",
		Severity:    Critical,
		Source:      Offline,
		Firing:      Firing{Immediate: true},
		Runbook:     "Every unmatched Decrypt is a use of the task role's credentials outside the app: its sourceIPAddress and userAgent say from where. Contain (kmswatch's responder, or revoke the role's sessions by hand), then rotate what the decrypted records protect.",
		References:  []string{"https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html"},
		when: []cond{
			equals(fieldSource, kmsSource),
			equals(fieldName, "Decrypt"),
			absent(fieldErrorCode),
			equalsParam(fieldIssuer, paramTaskRole),
		},
		join:  &servedJoin{event: "decrypt_served"},
		style: styleLab,
		cases: []Case{
			{Name: "the task role's Decrypt with no served line is unmatched", Params: labParams, Want: true,
				Record: decryptRecord(exampleKeyARN, "7f000001-0000-4000-8000-000000000001", "198.51.100.23"),
				With:   servedLine("2026-11-24T09:59:00.000Z", "7f000001-0000-4000-8000-00000000aaaa") + "\n" + servedLine("2026-11-24T10:01:00.000Z", "7f000001-0000-4000-8000-00000000bbbb")},
			{Name: "the task role's Decrypt the app served is matched", Params: labParams, Want: false,
				Record: decryptRecord(exampleKeyARN, "7f000001-0000-4000-8000-000000000002", "192.0.2.44"),
				With:   servedLine("2026-11-24T10:00:00.040Z", "7f000001-0000-4000-8000-000000000002") + "\n" + servedLine("2026-11-24T10:01:00.000Z", "7f000001-0000-4000-8000-00000000bbbb")},
			{Name: "a served line of another request does not match it", Params: labParams, Want: true,
				Record: decryptRecord(exampleKeyARN, "7f000001-0000-4000-8000-000000000003", "198.51.100.23"),
				With:   servedLine("2026-11-24T10:00:00.040Z", "7f000001-0000-4000-8000-000000000004") + "\n" + servedLine("2026-11-24T10:01:00.000Z", "7f000001-0000-4000-8000-00000000bbbb")},
			{Name: "a Decrypt after the app log ends is not judged", Params: labParams, Want: false,
				Record: decryptRecord(exampleKeyARN, "7f000001-0000-4000-8000-000000000005", "198.51.100.23"),
				With:   servedLine("2026-11-24T09:00:00.000Z", "7f000001-0000-4000-8000-00000000cccc")},
			{Name: "the task role's failed Decrypt is no served decrypt", Sample: "lab-decrypt-incorrectkey-taskrole.json", Params: labParams, Want: false,
				With: servedLine("2020-11-16T22:00:00.000Z", "x") + "\n" + servedLine("2020-11-16T23:00:00.000Z", "y")},
			{Name: "an IAM user's Decrypt is not the task role's", Sample: "kms-decrypt-success-iamuser.json", Params: labParams, Want: false,
				With: servedLine("2020-07-27T22:00:00.000Z", "x") + "\n" + servedLine("2020-07-27T23:00:00.000Z", "y")},
		},
	}
}
