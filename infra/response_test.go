package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/rules"
)

func responseRun(t *testing.T, mode string) *stackRun {
	t.Helper()
	return mustRun(t, withSettings(map[string]string{"response": mode}))
}

func TestResponderIsTheLambdaItShouldBe(t *testing.T) {
	run := responseRun(t, "contain")
	fn := run.one("aws:lambda/function:Function")
	role := run.named("aws:iam/role:Role", "identity-task-role")
	if fn.str("runtime") != "provided.al2023" || !slices.Equal(fn.strings("architectures"), []string{"arm64"}) ||
		fn.str("handler") != "bootstrap" {
		t.Errorf("function %v", fn.Inputs)
	}
	// A reservation fails the deploy in accounts whose concurrency quota is 100 or less: Lambda
	// keeps 100 unreserved. The containment claim serializes.
	// https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
	if v, set := fn.Inputs["reservedConcurrentExecutions"]; set && v != nil {
		t.Errorf("reservedConcurrentExecutions = %v, want none", v)
	}
	if fn.Parent != run.one("kmswatch:response:Response").URN {
		t.Error("the function is not the response component's")
	}
	want := map[string]string{
		"RESPONSE_MODE": "contain", "TASK_ROLE_NAME": role.outStr("name"), "TASK_ROLE_ARN": role.outStr("arn"),
		"ECS_CLUSTER": run.one("aws:ecs/cluster:Cluster").str("name"), "ECS_SERVICE": run.one("aws:ecs/service:Service").str("name"),
		"APP_KEY_ARN": run.named("aws:kms/key:Key", "keys-app").outStr("arn"), "AUDIT_KEY_ARN": run.named("aws:kms/key:Key", "keys-audit").outStr("arn"),
		"CONTAIN_ON_ALARMS": run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-volume").str("name") + "," +
			run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-unserved").str("name"),
		"CONTAINMENT_INTERVAL": "1h0m0s", "RECORD_TABLE": run.one("aws:dynamodb/table:Table").str("name"),
		"ALERT_TOPIC_ARN": run.one("aws:sns/topic:Topic").outStr("arn"),
	}
	for k, v := range want {
		if got := fn.str("environment", "variables", k); got != v || v == "" {
			t.Errorf("env %s = %q, want %q", k, got, v)
		}
	}
	// The settings the function reads are exactly these (cmd/responder fails on any missing).
	if n := len(fn.in("environment", "variables").(map[string]any)); n != len(want) {
		t.Errorf("%d environment variables, want %d", n, len(want))
	}
	logs := run.named("aws:cloudwatch/logGroup:LogGroup", "response-logs")
	if logs.str("name") != "/aws/lambda/"+fn.str("name") || logs.str("kmsKeyId") != want["AUDIT_KEY_ARN"] || fn.str("loggingConfig", "logGroup") != logs.str("name") {
		t.Errorf("log group %v, function logging %v", logs.Inputs, fn.in("loggingConfig"))
	}
	onFailure := run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
	if onFailure.str("destinationConfig", "onFailure", "destination") != want["ALERT_TOPIC_ARN"] {
		t.Errorf("failed invocations go to %v", onFailure.in("destinationConfig"))
	}
	if got := run.outputs["responderTable"]; got != want["RECORD_TABLE"] {
		t.Errorf("output responderTable = %v, want %s", got, want["RECORD_TABLE"])
	}
}

func TestResponderTableKeepsRecordsSafely(t *testing.T) {
	for _, protect := range []string{"false", "true"} {
		run := mustRun(t, withSettings(map[string]string{"response": "contain", "protect": protect}))
		table := run.one("aws:dynamodb/table:Table")
		if table.str("hashKey") != "id" || table.str("attributes", 0, "name") != "id" || table.str("attributes", 0, "type") != "S" ||
			!table.boolean("pointInTimeRecovery", "enabled") || !table.boolean("serverSideEncryption", "enabled") ||
			table.str("billingMode") != "PAY_PER_REQUEST" {
			t.Errorf("table %v", table.Inputs)
		}
		if keep := protect == "true"; table.Retain != keep || table.boolean("deletionProtectionEnabled") != keep {
			t.Errorf("protect %s: retain %v, deletion protection %v", protect, table.Retain, table.boolean("deletionProtectionEnabled"))
		}
	}
}

// The containing alarms (by default the trail's volume count and the fast count of decrypts the
// app did not serve) invoke the function on ALARM (never on OK); the key-deletion rule
// targets it with the raw event; each may invoke it only from its own ARN.
func TestResponderTriggers(t *testing.T) {
	run := responseRun(t, "contain")
	fn := run.one("aws:lambda/function:Function")
	fnARN, topic := fn.outStr("arn"), run.one("aws:sns/topic:Topic").outStr("arn")
	for _, alarm := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		want := []string{topic}
		if alarm.Name == "alerts-alarm-app-decrypt-volume" || alarm.Name == "alerts-alarm-app-decrypt-unserved" {
			want = []string{topic, fnARN}
		}
		if got := alarm.strings("alarmActions"); !slices.Equal(got, want) {
			t.Errorf("%s: alarm actions %v, want %v", alarm.Name, got, want)
		}
		if got := alarm.strings("okActions"); !slices.Equal(got, []string{topic}) {
			t.Errorf("%s: OK actions %v", alarm.Name, got)
		}
	}
	rule := run.named("aws:cloudwatch/eventRule:EventRule", "alerts-event-"+keyDeletionRuleID)
	if !strings.Contains(rule.str("eventPattern"), `"ScheduleKeyDeletion"`) {
		t.Fatalf("the rule the responder listens to no longer matches ScheduleKeyDeletion: %s", rule.str("eventPattern"))
	}
	target := run.named("aws:cloudwatch/eventTarget:EventTarget", "alerts-event-responder-"+keyDeletionRuleID)
	if target.str("rule") != rule.outStr("name") || target.str("arn") != fnARN || target.in("inputTransformer") != nil {
		t.Errorf("responder target %v", target.Inputs)
	}
	if n := len(run.all("aws:cloudwatch/eventTarget:EventTarget")); n != 3 {
		t.Errorf("%d event targets: want the two rules' topic targets and one responder target", n)
	}

	type grant struct{ principal, source string }
	want := map[grant]bool{
		{"lambda.alarms.cloudwatch.amazonaws.com", run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-volume").outStr("arn")}:   true,
		{"lambda.alarms.cloudwatch.amazonaws.com", run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-unserved").outStr("arn")}: true,
		{"events.amazonaws.com", rule.outStr("arn")}: true,
	}
	permissions := run.all("aws:lambda/permission:Permission")
	if len(permissions) != len(want) {
		t.Errorf("%d permissions, want %d", len(permissions), len(want))
	}
	for _, p := range permissions {
		g := grant{p.str("principal"), p.str("sourceArn")}
		if !want[g] || g.source == "" ||
			p.str("action") != "lambda:InvokeFunction" || p.str("function") != fn.str("name") || p.str("sourceAccount") != mockAccount {
			t.Errorf("permission %v", p.Inputs)
		}
		delete(want, g)
	}
	for g := range want {
		t.Errorf("no permission for %s from %s", g.principal, g.source)
	}
}

// roleGrants lists a role policy as "action on resource" lines, with conditions.
func roleGrants(t *testing.T, res *recorded) []string {
	t.Helper()
	var out []string
	for _, s := range res.policy(t, "policy").Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: %s is a %s", res.Name, s.Sid, s.Effect)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %q", s.Sid, a)
			}
			for _, r := range s.Resource {
				line := a + " on " + r
				if len(s.Condition) > 0 {
					line += " if " + s.Condition["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"][0] + " via " + s.Condition["StringEquals"]["kms:ViaService"][0]
				}
				out = append(out, line)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestResponderRoleHasOnlyWhatItsActionsNeed(t *testing.T) {
	for _, mode := range []string{"contain", "dryRun"} {
		t.Run(mode, func(t *testing.T) {
			run := responseRun(t, mode)
			taskRole := run.named("aws:iam/role:Role", "identity-task-role").outStr("arn")
			appKey := run.named("aws:kms/key:Key", "keys-app").outStr("arn")
			auditKey := run.named("aws:kms/key:Key", "keys-audit").outStr("arn")
			table := run.one("aws:dynamodb/table:Table").outStr("arn")
			topic := run.one("aws:sns/topic:Topic").outStr("arn")
			logs := run.named("aws:cloudwatch/logGroup:LogGroup", "response-logs").outStr("arn")
			service := "arn:aws:ecs:" + mockRegion + ":" + mockAccount + ":service/" + run.one("aws:ecs/cluster:Cluster").str("name") + "/" + run.one("aws:ecs/service:Service").str("name")
			want := []string{
				"iam:GetRolePolicy on " + taskRole,
				"kms:DescribeKey on " + appKey,
				"dynamodb:GetItem on " + table, "dynamodb:PutItem on " + table, "dynamodb:UpdateItem on " + table,
				"sns:Publish on " + topic,
				"kms:GenerateDataKey on " + auditKey + " if " + topic + " via sns." + mockRegion + ".amazonaws.com",
				"kms:Decrypt on " + auditKey + " if " + topic + " via sns." + mockRegion + ".amazonaws.com",
				"logs:CreateLogStream on " + logs + ":log-stream:*", "logs:PutLogEvents on " + logs + ":log-stream:*",
			}
			if mode == "contain" {
				want = append(want, "iam:PutRolePolicy on "+taskRole, "ecs:UpdateService on "+service, "kms:CancelKeyDeletion on "+appKey)
			}
			sort.Strings(want)
			policy := run.named("aws:iam/rolePolicy:RolePolicy", "response-policy")
			if policy.str("role") != run.named("aws:iam/role:Role", "response-role").outStr("name") {
				t.Errorf("the policy is on role %q", policy.str("role"))
			}
			if got := roleGrants(t, policy); !slices.Equal(got, want) {
				t.Errorf("grants\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if role := run.named("aws:iam/role:Role", "response-role"); !strings.Contains(role.str("assumeRolePolicy"), `"Service":"lambda.amazonaws.com"`) {
				t.Errorf("trust %s", role.str("assumeRolePolicy"))
			}
		})
	}
}

// The audit key lets the responder's role (by ARN) do what publishing needs, through SNS, for
// the alert topic; and encrypt its log group. Nothing else of the responder touches the key.
func TestAuditKeyLetsTheResponderOnlyPublish(t *testing.T) {
	run := responseRun(t, "contain")
	policy := run.named("aws:kms/key:Key", "keys-audit").policy(t, "policy")
	s := statementBySid(t, policy, "ResponderPublishesToAlertTopic")
	topic := run.one("aws:sns/topic:Topic").outStr("arn")
	roleARN := run.named("aws:iam/role:Role", "response-role").outStr("arn")
	if !slices.Equal(s.Action, []string{"kms:GenerateDataKey", "kms:Decrypt"}) || s.Principal.AWS[0] != "arn:aws:iam::"+mockAccount+":root" ||
		s.Condition["ArnEquals"]["aws:PrincipalArn"][0] != roleARN ||
		s.Condition["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"][0] != topic ||
		s.Condition["StringEquals"]["kms:ViaService"][0] != "sns."+mockRegion+".amazonaws.com" {
		t.Errorf("statement %+v", s)
	}
	logs := statementBySid(t, policy, "CloudWatchLogsEncryptsLogGroups")
	if !slices.Contains(logs.Condition["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"], run.named("aws:cloudwatch/logGroup:LogGroup", "response-logs").outStr("arn")) {
		t.Errorf("the responder's log group is not among %v", logs.Condition)
	}
}

func TestResponseNotifyDeploysNoResponder(t *testing.T) {
	run := responseRun(t, "notify")
	for _, typ := range []string{"kmswatch:response:Response", "aws:lambda/function:Function", "aws:lambda/permission:Permission", "aws:dynamodb/table:Table"} {
		if n := len(run.all(typ)); n != 0 {
			t.Errorf("%d %s under notify", n, typ)
		}
	}
	for _, p := range run.all("aws:iam/rolePolicy:RolePolicy") {
		for _, g := range roleGrants(t, p) {
			for _, action := range []string{"iam:PutRolePolicy", "iam:GetRolePolicy", "ecs:UpdateService", "kms:CancelKeyDeletion"} {
				if strings.HasPrefix(g, action+" ") {
					t.Errorf("%s grants %s under notify", p.Name, g)
				}
			}
		}
	}
	for _, s := range run.named("aws:kms/key:Key", "keys-audit").policy(t, "policy").Statement {
		if s.Sid == "ResponderPublishesToAlertTopic" {
			t.Error("the audit key names a responder under notify")
		}
	}
	for _, alarm := range run.all("aws:cloudwatch/metricAlarm:MetricAlarm") {
		if len(alarm.strings("alarmActions")) != 1 {
			t.Errorf("%s: actions %v", alarm.Name, alarm.strings("alarmActions"))
		}
	}
	if _, ok := run.outputs["responderTable"]; ok {
		t.Error("responderTable exported without a responder")
	}
}

func TestResponseSettings(t *testing.T) {
	cfg, err := parseConfig(lookupFrom(baseConfig()))
	if err != nil || cfg.Response != responder.ModeDryRun || !slices.Equal(cfg.ContainOnRules, []string{"app-decrypt-volume", "app-decrypt-unserved"}) || cfg.ContainmentInterval != 60 {
		t.Fatalf("defaults %+v, %v", cfg, err)
	}
	for settings, want := range map[string]string{
		`{"response":"on"}`:                                `response "on": want one of notify, dryRun, contain`,
		`{"containOnRules":"[\"nope\"]"}`:                  `containOnRules: "nope" is no rule`,
		`{"containOnRules":"[\"app-decrypt-denied\"]"}`:    `"app-decrypt-denied" has no alarm on the task role's own calls`,
		`{"containOnRules":"[\"kms-key-policy-change\"]"}`: `"kms-key-policy-change" has no alarm`,
		// The per-key rate counts every caller's decrypts, the app's too; the join is not deployed.
		`{"containOnRules":"[\"app-key-decrypt-rate\"]"}`:  `"app-key-decrypt-rate" has no alarm on the task role's own calls nor on decrypts the app did not serve`,
		`{"containOnRules":"[\"app-decrypt-unmatched\"]"}`: `"app-decrypt-unmatched" has no alarm`,
		`{"containOnRules":"[]"}`:                          "containOnRules: empty",
		`{"containmentIntervalMinutes":"0"}`:               "containmentIntervalMinutes 0: want 1 to 1440",
	} {
		_, err := parseConfig(lookupFrom(withSettings(jsonSettings(t, settings))))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", settings, err, want)
		}
	}
	// Several containing rules: each alarm invokes, each has its permission.
	run := mustRun(t, withSettings(map[string]string{"response": "contain", "containOnRules": `["app-decrypt-volume","app-kms-errors"]`}))
	if n := len(run.all("aws:lambda/permission:Permission")); n != 3 {
		t.Errorf("%d permissions for two alarms and one rule", n)
	}
	lab := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-kms-errors")
	if len(lab.strings("alarmActions")) != 2 {
		t.Errorf("the lab alarm does not invoke the responder: %v", lab.strings("alarmActions"))
	}
	if _, ok := rules.Lookup(keyDeletionRuleID); !ok {
		t.Errorf("rule %s is gone from the rule set", keyDeletionRuleID)
	}
	// The fast alarm on decrypts the app did not serve may contain: its alarm invokes, with its permission.
	fast := mustRun(t, withSettings(map[string]string{"response": "contain", "containOnRules": `["app-decrypt-unserved"]`}))
	unserved := fast.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-unserved")
	fn := fast.one("aws:lambda/function:Function")
	if !slices.Contains(unserved.strings("alarmActions"), fn.outStr("arn")) {
		t.Errorf("the unserved alarm does not invoke the responder: %v", unserved.strings("alarmActions"))
	}
	perm := fast.named("aws:lambda/permission:Permission", "response-invoke-by-alarm-app-decrypt-unserved")
	if perm.str("sourceArn") != unserved.outStr("arn") || perm.str("principal") != "lambda.alarms.cloudwatch.amazonaws.com" {
		t.Errorf("permission %v for alarm %s", perm.Inputs, unserved.outStr("arn"))
	}
	if got := fn.str("environment", "variables", "CONTAIN_ON_ALARMS"); got != "kmswatch-dev-app-decrypt-unserved" {
		t.Errorf("CONTAIN_ON_ALARMS %q", got)
	}
}

// The package Pulumi uploads: one executable, bootstrap, for linux/arm64, in a zip whose bytes
// depend on the binary only, so that a second `pulumi up` finds the same hash and updates nothing.
func TestResponderPackage(t *testing.T) {
	a, err := buildResponder()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if base64.StdEncoding.EncodeToString(sum[:]) != a.SHA256Base64 {
		t.Error("the hash is not the file's")
	}
	t.Logf("responder package: %d bytes, sha256 %s", a.Size, a.SHA256Hex)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || len(zr.File) != 1 {
		t.Fatalf("zip: %v, %d entries", err, len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" || f.Mode().Perm() != 0o755 || !f.Modified.Equal(zipEpoch) {
		t.Errorf("entry %s mode %s time %s", f.Name, f.Mode(), f.Modified)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil || bin.Machine != elf.EM_AARCH64 || bin.OSABI != elf.ELFOSABI_NONE {
		t.Fatalf("bootstrap is not a linux/arm64 executable: %v", err)
	}
	if again, err := reproducibleZip("bootstrap", exe); err != nil || !bytes.Equal(again, raw) {
		t.Error("zipping the same binary again gives other bytes")
	}
	run := responseRun(t, "dryRun")
	if got := run.one("aws:lambda/function:Function").str("sourceCodeHash"); got != a.SHA256Base64 {
		t.Errorf("sourceCodeHash %q, want the package's %q", got, a.SHA256Base64)
	}
}

func jsonSettings(t *testing.T, s string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
