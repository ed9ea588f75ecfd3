package main

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// AWS validates names, sizes and formats that the mocks accept blindly. These tests apply the
// documented rules to what the program would send, for an ordinary and an awkward stack name.

var stackNamesUnderTest = []string{"dev", "Security_Team.Production-EU-West-1-with-a-very-long-stack-name"}

// nameRule is one documented naming rule.
type nameRule struct {
	max     int
	pattern *regexp.Regexp
	extra   func(string) string // returns a problem, or ""
	doc     string
}

var (
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
	albName = nameRule{32, regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`), func(s string) string {
		if strings.HasPrefix(s, "internal-") {
			return `begins with "internal-"`
		}
		return ""
	}, "ELB CreateLoadBalancer"}
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
	targetGroupName = nameRule{32, regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`), nil, "ELB CreateTargetGroup"}
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
	iamRoleName = nameRule{64, regexp.MustCompile(`^[\w+=,.@-]+$`), nil, "IAM CreateRole"}
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html
	iamPolicyName = nameRule{128, regexp.MustCompile(`^[\w+=,.@-]+$`), nil, "IAM PutRolePolicy"}
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
	bucketName = nameRule{63, regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`), func(s string) string {
		if strings.Contains(s, "..") || strings.HasPrefix(s, "xn--") || strings.HasSuffix(s, "-s3alias") {
			return "breaks an S3 naming rule"
		}
		if _, err := netip.ParseAddr(s); err == nil {
			return "looks like an IP address"
		}
		return ""
	}, "S3 bucket naming rules"}
	// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (DBInstanceIdentifier)
	rdsIdentifier = nameRule{63, regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`), noDoubleHyphen, "RDS CreateDBInstance"}
	// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html (FinalDBSnapshotIdentifier)
	rdsSnapshot = nameRule{255, regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`), noDoubleHyphen, "RDS DeleteDBInstance"}
	// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints (PostgreSQL DBName)
	postgresDBName = nameRule{63, regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`), nil, "RDS PostgreSQL database name"}
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
	alarmName = nameRule{255, regexp.MustCompile(`^[^\x00-\x1f]+$`), nil, "CloudWatch PutMetricAlarm"}
	// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html
	eventRuleName = nameRule{64, regexp.MustCompile(`^[\.\-_A-Za-z0-9]+$`), nil, "EventBridge PutRule"}
	// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html (Id)
	eventTargetID = nameRule{64, regexp.MustCompile(`^[\.\-_A-Za-z0-9]+$`), nil, "EventBridge Target Id"}
	// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
	logGroupName = nameRule{512, regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`), nil, "CloudWatch Logs CreateLogGroup"}
	// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html
	metricFilterName = nameRule{512, regexp.MustCompile(`^[^:*]+$`), nil, "CloudWatch Logs PutMetricFilter"}
	// A metric filter's metricNamespace: at most 255, "Pattern: [^:*$]*"
	// (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_MetricTransformation.html);
	// an alarm's Namespace: 1 to 255, "Pattern: [^:].*" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html);
	// ASCII without control characters, and not AWS/ (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
	metricNamespace = nameRule{255, regexp.MustCompile(`^[\x20-\x7e]+$`), func(s string) string {
		if strings.ContainsAny(s, ":*$") {
			return "holds one of : * $"
		}
		if strings.HasPrefix(s, "AWS/") {
			return "AWS/ is reserved for AWS's metrics"
		}
		return ""
	}, "CloudWatch metric namespace"}
	// https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
	topicName = nameRule{256, regexp.MustCompile(`^[A-Za-z0-9_-]+$`), nil, "SNS CreateTopic"}
	// https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
	trailName = nameRule{128, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$`), func(s string) string {
		if regexp.MustCompile(`[._-]{2}`).MatchString(s) {
			return "adjacent periods, underscores or dashes"
		}
		return ""
	}, "CloudTrail CreateTrail"}
	// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
	repositoryName = nameRule{256, regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`), nil, "ECR CreateRepository"}
	// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html (also services and task families)
	ecsName = nameRule{255, regexp.MustCompile(`^[A-Za-z0-9_-]+$`), nil, "ECS names"}
	// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html
	kmsAlias = nameRule{256, regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`), func(s string) string {
		if strings.HasPrefix(s, "alias/aws/") {
			return "alias/aws/ is reserved for AWS managed keys"
		}
		return ""
	}, "KMS CreateAlias"}
	// Security group and rule descriptions accept a restricted set of characters.
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html (Description)
	securityGroupText = nameRule{255, regexp.MustCompile(`^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]+$`), nil, "EC2 security group descriptions"}
)

func noDoubleHyphen(s string) string {
	if strings.Contains(s, "--") {
		return "two consecutive hyphens"
	}
	return ""
}

func (r nameRule) check(t *testing.T, what, name string) {
	t.Helper()
	problem := ""
	switch {
	case name == "":
		problem = "empty"
	case len(name) > r.max:
		problem = "longer than " + strconv.Itoa(r.max)
	case !r.pattern.MatchString(name):
		problem = "does not match " + r.pattern.String()
	case r.extra != nil:
		problem = r.extra(name)
	}
	if problem != "" {
		t.Errorf("%s %q: %s (%s)", what, name, problem, r.doc)
	}
}

func TestNamesFitAWSLimits(t *testing.T) {
	for _, stack := range stackNamesUnderTest {
		t.Run(stack, func(t *testing.T) {
			run := runStack(t, stack, withSettings(map[string]string{"protect": "true"}))
			if run.err != nil {
				t.Fatal(run.err)
			}
			byType := map[string]struct {
				rule nameRule
				key  string
				out  bool // the name is an output (auto-named)
			}{
				"aws:lb/loadBalancer:LoadBalancer":               {albName, "name", true},
				"aws:lb/targetGroup:TargetGroup":                 {targetGroupName, "name", true},
				"aws:iam/role:Role":                              {iamRoleName, "name", true},
				"aws:iam/rolePolicy:RolePolicy":                  {iamPolicyName, "name", true},
				"aws:s3/bucketV2:BucketV2":                       {bucketName, "bucket", true},
				"aws:rds/instance:Instance":                      {rdsIdentifier, "identifier", true},
				"aws:cloudwatch/metricAlarm:MetricAlarm":         {alarmName, "name", false},
				"aws:cloudwatch/eventRule:EventRule":             {eventRuleName, "name", false},
				"aws:cloudwatch/eventTarget:EventTarget":         {eventTargetID, "targetId", false},
				"aws:cloudwatch/logGroup:LogGroup":               {logGroupName, "name", false},
				"aws:cloudwatch/logMetricFilter:LogMetricFilter": {metricFilterName, "name", false},
				"aws:sns/topic:Topic":                            {topicName, "name", false},
				"aws:cloudtrail/trail:Trail":                     {trailName, "name", false},
				"aws:ecr/repository:Repository":                  {repositoryName, "name", false},
				"aws:ecs/cluster:Cluster":                        {ecsName, "name", false},
				"aws:ecs/service:Service":                        {ecsName, "name", false},
				"aws:ecs/taskDefinition:TaskDefinition":          {ecsName, "family", false},
				"aws:kms/alias:Alias":                            {kmsAlias, "name", false},
			}
			for typ, spec := range byType {
				resources := run.all(typ)
				if len(resources) == 0 {
					t.Errorf("no %s to check", typ)
				}
				for _, res := range resources {
					name := res.str(spec.key)
					if spec.out {
						name = res.outStr(spec.key)
					}
					spec.rule.check(t, typ+" "+res.Name, name)
				}
			}
			for _, f := range run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter") {
				metricNamespace.check(t, "metric filter "+f.Name+" namespace", f.str("metricTransformation", "namespace"))
			}
			for _, a := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
				for _, m := range alarmReads(a) {
					if ns := namespaceOf(m); !strings.HasPrefix(ns, "AWS/") {
						metricNamespace.check(t, "alarm "+a.Name+" namespace", ns)
					}
				}
			}
			db := run.one("aws:rds/instance:Instance")
			rdsSnapshot.check(t, "final snapshot", db.str("finalSnapshotIdentifier"))
			postgresDBName.check(t, "database name", db.str("dbName"))
			for _, sg := range run.all("aws:ec2/securityGroup:SecurityGroup") {
				securityGroupText.check(t, sg.Name+" description", sg.str("description"))
				for _, dir := range []string{"ingress", "egress"} {
					rules, _ := sg.in(dir).([]any)
					for i := range rules {
						securityGroupText.check(t, sg.Name+" "+dir+" description", sg.str(dir, i, "description"))
					}
				}
			}
			for _, rule := range run.all("aws:ec2/securityGroupRule:SecurityGroupRule") {
				securityGroupText.check(t, rule.Name+" description", rule.str("description"))
			}
		})
	}
}

func TestStackNamePrefixIsShortStableAndDistinct(t *testing.T) {
	if got := newStackNames("kmswatch", "dev").Prefix(); got != "kmswatch-dev" {
		t.Errorf("dev prefix %q, want kmswatch-dev", got)
	}
	a := newStackNames("kmswatch", "production-eu-west-1-blue").Prefix()
	b := newStackNames("kmswatch", "production-eu-west-1-green").Prefix()
	if a == b {
		t.Errorf("two long stacks share the prefix %q", a)
	}
	for _, p := range []string{a, b, newStackNames("kmswatch", "Ünïcode Stack!").Prefix()} {
		if len(p) > maxPrefixLen || !regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`).MatchString(p) {
			t.Errorf("prefix %q: want at most %d lower-case letters, digits and single hyphens", p, maxPrefixLen)
		}
	}
	if newStackNames("kmswatch", "production-eu-west-1-blue").Prefix() != a {
		t.Error("prefix not stable across runs")
	}
}

// The stack's metric namespace is "kmswatch/<prefix>": the longest prefix naming.go makes
// (maxPrefixLen, a long stack name shortened with its hash) keeps it within CloudWatch's 255.
func TestStackMetricNamespaceFitsForTheLongestPrefix(t *testing.T) {
	for _, stack := range append([]string{"production-eu-west-1-blue", strings.Repeat("x", 300)}, stackNamesUnderTest...) {
		n := newStackNames("kmswatch", stack)
		ns := n.MetricNamespace()
		if ns != "kmswatch/"+n.Prefix() {
			t.Errorf("%s: namespace %q, want kmswatch/%s", stack, ns, n.Prefix())
		}
		if len(stack) > maxPrefixLen && len(n.Prefix()) != maxPrefixLen {
			t.Errorf("%s: prefix %q is not the longest naming.go makes (%d)", stack, n.Prefix(), maxPrefixLen)
		}
		metricNamespace.check(t, stack+" metric namespace", ns)
		if err := rules.ValidateMetricNamespace(ns); err != nil {
			t.Error(err)
		}
	}
	if longest := len("kmswatch/") + maxPrefixLen; longest > 255 {
		t.Errorf("the longest stack namespace has %d characters; CloudWatch takes 255", longest)
	}
}

// Metric filters publish standard-resolution metrics: alarm periods are whole minutes, and
// period x evaluation periods is at most a day.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation
func TestAlarmsUseStandardResolutionPeriods(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"appKmsErrorsPeriodSeconds": "600", "appKmsErrorsEvaluationPeriods": "144"}))
	statistics := map[string]bool{"SampleCount": true, "Average": true, "Sum": true, "Minimum": true, "Maximum": true}
	for _, alarm := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		if queries, ok := alarm.in("metricQueries").([]any); ok {
			checkMetricQueryAlarm(t, alarm, queries)
			continue
		}
		period, periods := int(alarm.num("period")), int(alarm.num("evaluationPeriods"))
		if period < 60 || period%60 != 0 {
			t.Errorf("%s: period %d s is not a whole number of minutes", alarm.str("name"), period)
		}
		if periods < 1 || period*periods > 86400 {
			t.Errorf("%s: %d x %d s exceeds one day", alarm.str("name"), periods, period)
		}
		if !statistics[alarm.str("statistic")] || alarm.num("threshold") < 1 {
			t.Errorf("%s: statistic %q threshold %v", alarm.str("name"), alarm.str("statistic"), alarm.num("threshold"))
		}
		if len(alarm.str("alarmDescription")) > rules.MaxAlarmDescription {
			t.Errorf("%s: description of %d bytes, CloudWatch allows %d", alarm.str("name"), len(alarm.str("alarmDescription")), rules.MaxAlarmDescription)
		}
	}
}

// checkMetricQueryAlarm: an alarm on a Metrics array takes its period from each metric, all the
// same, whole minutes, at most a day over its evaluation periods; and a threshold of 1 or more
// unless an anomaly band is the threshold.
func checkMetricQueryAlarm(t *testing.T, alarm *recorded, queries []any) {
	t.Helper()
	periods := int(alarm.num("evaluationPeriods"))
	seen := map[int]bool{}
	for i := range queries {
		if alarm.in("metricQueries", i, "metric") == nil {
			continue
		}
		period := int(alarm.num("metricQueries", i, "metric", "period"))
		seen[period] = true
		if period < 60 || period%60 != 0 || periods < 1 || period*periods > 86400 {
			t.Errorf("%s: query %d: %d x %d s, want whole minutes and at most a day", alarm.str("name"), i, periods, period)
		}
		if stat := alarm.str("metricQueries", i, "metric", "stat"); stat != "Sum" {
			t.Errorf("%s: query %d: statistic %q, want Sum", alarm.str("name"), i, stat)
		}
	}
	if len(seen) != 1 {
		t.Errorf("%s: metric periods %v, want one period", alarm.str("name"), seen)
	}
	if alarm.str("thresholdMetricId") == "" && alarm.num("threshold") < 1 {
		t.Errorf("%s: threshold %v", alarm.str("name"), alarm.num("threshold"))
	}
	if len(alarm.str("alarmDescription")) > rules.MaxAlarmDescription {
		t.Errorf("%s: description of %d bytes, CloudWatch allows %d", alarm.str("name"), len(alarm.str("alarmDescription")), rules.MaxAlarmDescription)
	}
}

// What EventBridge and CloudWatch Logs validate when the rules are put, and mocks do not.
func TestPatternsAndTemplatesAreWhatAWSAccepts(t *testing.T) {
	run := mustRun(t, baseConfig())
	for _, f := range run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter") {
		// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html
		if p := f.str("pattern"); len(p) > 1024 || !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") {
			t.Errorf("%s: filter pattern of %d chars, want a JSON pattern of at most 1024: %s", f.Name, len(p), p)
		}
	}
	placeholder := regexp.MustCompile(`<([^<>\s]+)>`)
	pathKey := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	for _, rule := range run.all("aws:cloudwatch/eventRule:EventRule") {
		// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html (EventPattern, at most 4096)
		var pattern map[string]any
		if p := rule.str("eventPattern"); len(p) > 4096 || json.Unmarshal([]byte(p), &pattern) != nil {
			t.Errorf("%s: event pattern not JSON or too long: %s", rule.Name, p)
		}
		checkPatternLeaves(t, rule.Name, pattern)
	}
	for _, target := range run.all("aws:cloudwatch/eventTarget:EventTarget") {
		if strings.HasPrefix(target.str("arn"), "arn:aws:lambda:") {
			continue // the responder takes the event as it is (response_test.go)
		}
		// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html
		paths, _ := target.in("inputTransformer", "inputPaths").(map[string]any)
		if len(paths) == 0 || len(paths) > 100 {
			t.Errorf("%s: %d input paths, EventBridge allows 1-100", target.Name, len(paths))
		}
		for key, path := range paths {
			if !pathKey.MatchString(key) || strings.HasPrefix(key, "AWS") || len(key) > 256 {
				t.Errorf("%s: input path key %q not allowed", target.Name, key)
			}
			if p, _ := path.(string); !strings.HasPrefix(p, "$.") || len(p) > 256 {
				t.Errorf("%s: input path %q is not a JSON path", target.Name, path)
			}
		}
		// Plain text arrives as written, so the email reads as lines; a JSON string would arrive in
		// its quotes with \n escapes (see rules.InputTransformer.Render).
		template := target.str("inputTransformer", "inputTemplate")
		form := rules.InputTransformer{InputTemplate: template}.Form()
		if len(template) < 1 || len(template) > 8192 || form != rules.PlainText || !strings.Contains(template, "\n") {
			t.Errorf("%s: input template (%s) is not lines of plain text of 1 to 8192 chars: %s", target.Name, form, template)
		}
		for _, m := range placeholder.FindAllStringSubmatch(template, -1) {
			if _, ok := paths[m[1]]; !ok {
				t.Errorf("%s: template uses <%s>, which no input path defines", target.Name, m[1])
			}
		}
	}
}

// checkPatternLeaves: every value in an event pattern is an object or an array of matchers.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
func checkPatternLeaves(t *testing.T, where string, v map[string]any) {
	t.Helper()
	for key, value := range v {
		switch value := value.(type) {
		case map[string]any:
			checkPatternLeaves(t, where+"."+key, value)
		case []any:
			if len(value) == 0 {
				t.Errorf("%s.%s: empty match list never matches", where, key)
			}
		default:
			t.Errorf("%s.%s: %v is neither an object nor a list", where, key, value)
		}
	}
}

// Policy documents have size limits the provider only learns from AWS.
func TestPoliciesFitTheirSizeLimits(t *testing.T) {
	run := mustRun(t, baseConfig())
	limits := []struct {
		typ, key string
		max      int
		doc      string
	}{
		{"aws:kms/key:Key", "policy", 32768, "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html"},
		{"aws:iam/rolePolicy:RolePolicy", "policy", 10240, "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"},
		{"aws:iam/policy:Policy", "policy", 6144, "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"},
		{"aws:iam/role:Role", "assumeRolePolicy", 2048, "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"},
		{"aws:s3/bucketPolicy:BucketPolicy", "policy", 20480, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html"},
		{"aws:sns/topicPolicy:TopicPolicy", "policy", 30720, "https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html"},
	}
	for _, l := range limits {
		for _, res := range run.all(l.typ) {
			doc := res.policy(t, l.key)
			if n := len(res.str(l.key)); n > l.max {
				t.Errorf("%s %s: %s is %d chars, limit %d (%s)", l.typ, res.Name, l.key, n, l.max, l.doc)
			}
			if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
				t.Errorf("%s %s: policy version %q with %d statements", l.typ, res.Name, doc.Version, len(doc.Statement))
			}
		}
	}
}

// Every ARN a policy names is well formed and in the stack's partition, region and account
// (or global, or a wildcard the statement means).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
func TestPolicyARNsAreWellFormedAndInTheStacksAccount(t *testing.T) {
	run := mustRun(t, baseConfig())
	arn := regexp.MustCompile(`^arn:aws:([a-z0-9-]+):([a-z0-9-]*|\*):(\d{12}|\*)?:(.+)$`)
	check := func(where string, values []string) {
		for _, v := range values {
			if !strings.HasPrefix(v, "arn:") {
				continue
			}
			m := arn.FindStringSubmatch(v)
			switch {
			case m == nil:
				t.Errorf("%s: malformed ARN %q", where, v)
			case m[3] != "" && m[3] != mockAccount:
				t.Errorf("%s: ARN %q in account %s", where, v, m[3])
			case m[2] != "" && m[2] != "*" && m[2] != mockRegion:
				t.Errorf("%s: ARN %q in region %s", where, v, m[2])
			}
		}
	}
	for _, res := range run.resources {
		for _, key := range []string{"policy", "assumeRolePolicy"} {
			if res.str(key) == "" || !strings.Contains(res.str(key), "Statement") {
				continue
			}
			for _, s := range res.policy(t, key).Statement {
				where := res.Type + " " + res.Name + " " + s.Sid
				check(where, s.Resource)
				if s.Principal != nil {
					check(where, s.Principal.AWS)
				}
				for _, keys := range s.Condition {
					for _, values := range keys {
						check(where, values)
					}
				}
			}
		}
	}
}
