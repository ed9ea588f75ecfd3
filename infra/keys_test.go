package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// keyUseActions are the KMS actions that use key material, plus CreateGrant: a grant can give its
// grantee any of them, so allowing CreateGrant is allowing use.
// https://docs.aws.amazon.com/kms/latest/developerguide/kms-cryptography.html#cryptographic-operations
// https://docs.aws.amazon.com/kms/latest/developerguide/grants.html
var keyUseActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
	"kms:GenerateDataKeyPair", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateMac",
	"kms:VerifyMac", "kms:Sign", "kms:Verify", "kms:DeriveSharedSecret", "kms:CreateGrant"}

// grants reports whether an action pattern (kms:Describe*, kms:*) covers the action.
func grants(pattern, action string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(action, prefix)
	}
	return pattern == action
}

func TestKeysRotateAndHaveAliases(t *testing.T) {
	run := mustRun(t, baseConfig())
	for _, key := range run.all("aws:kms/key:Key") {
		if !key.boolean("enableKeyRotation") {
			t.Errorf("key %s: rotation off", key.Name)
		}
		if w := key.num("deletionWindowInDays"); w < 7 || w > 30 {
			t.Errorf("key %s: pending window %v, KMS accepts 7-30 days", key.Name, w)
		}
	}
	aliases := map[string]string{}
	for _, a := range run.all("aws:kms/alias:Alias") {
		aliases[a.str("name")] = a.str("targetKeyId")
	}
	if aliases["alias/kmswatch-dev-app"] != run.named("aws:kms/key:Key", "keys-app").outStr("keyId") ||
		aliases["alias/kmswatch-dev-audit"] != run.named("aws:kms/key:Key", "keys-audit").outStr("keyId") {
		t.Errorf("aliases %v", aliases)
	}
}

func TestAppKeyIsUsedByTheTaskRoleOnly(t *testing.T) {
	run := mustRun(t, baseConfig())
	policy := run.named("aws:kms/key:Key", "keys-app").policy(t, "policy")
	roleARN := run.named("aws:iam/role:Role", "identity-task-role").outStr("arn")
	root := "arn:aws:iam::" + mockAccount + ":root"

	for _, s := range policy.Statement {
		for _, a := range s.Action {
			if a == "kms:*" || a == "*" {
				t.Errorf("statement %s grants %s", s.Sid, a)
			}
			for _, op := range keyUseActions {
				if grants(a, op) && !reflect.DeepEqual(s.Principal.AWS, stringList{roleARN}) {
					t.Errorf("statement %s lets %v %s; only the task role may use the key", s.Sid, s.Principal, op)
				}
			}
		}
	}
	use := statementBySid(t, policy, "UseByTheAppTaskRoleOnly")
	if !reflect.DeepEqual(use.Principal.AWS, stringList{roleARN}) || !slices.Equal(use.Action, appKeyUse) {
		t.Errorf("use statement %+v, want %v for %s", use, appKeyUse, roleARN)
	}
	admin := statementBySid(t, policy, "KeyAdministrationByTheAccount")
	if !reflect.DeepEqual(admin.Principal.AWS, stringList{root}) || !slices.Contains(admin.Action, "kms:PutKeyPolicy") {
		t.Errorf("administration %+v: the account must keep PutKeyPolicy, or KMS refuses the policy (lockout check)", admin)
	}
}

// Every action in both key policies is named, so that what a principal may do is what the policy
// says; grants are never allowed, except (if ever needed) to AWS services on the caller's behalf.
// https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
func TestKeyPoliciesNameEveryActionAndAllowNoGrants(t *testing.T) {
	run := mustRun(t, baseConfig())
	root := "arn:aws:iam::" + mockAccount + ":root"
	for _, name := range []string{"keys-app", "keys-audit"} {
		t.Run(name, func(t *testing.T) {
			policy := run.named("aws:kms/key:Key", name).policy(t, "policy")
			for _, s := range policy.Statement {
				for _, a := range s.Action {
					if strings.Contains(a, "*") {
						t.Errorf("statement %s allows wildcard action %q", s.Sid, a)
					}
					if grants(a, "kms:CreateGrant") && !reflect.DeepEqual(s.Condition["Bool"]["kms:GrantIsForAWSResource"], stringList{"true"}) {
						t.Errorf("statement %s allows %s without kms:GrantIsForAWSResource", s.Sid, a)
					}
				}
			}
			// The lockout safety check: the account keeps PutKeyPolicy, so the deployer can update the policy.
			// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#KMS-CreateKey-request-Policy
			admin := statementBySid(t, policy, "KeyAdministrationByTheAccount")
			if !reflect.DeepEqual(admin.Principal.AWS, stringList{root}) || !slices.Contains(admin.Action, "kms:PutKeyPolicy") ||
				admin.Condition != nil {
				t.Errorf("administration %+v: the account must keep PutKeyPolicy unconditionally", admin)
			}
			for _, a := range admin.Action {
				for _, op := range keyUseActions {
					if grants(a, op) {
						t.Errorf("administration allows %s (through %s): administration must not use the key", op, a)
					}
				}
			}
		})
	}
}

// keyStatementFor returns the statements whose principal is the service.
func keyStatementsFor(doc policyDocument, service string) []statement {
	var out []statement
	for _, s := range doc.Statement {
		if s.Principal != nil && slices.Contains(s.Principal.Service, service) {
			out = append(out, s)
		}
	}
	return out
}

// Every AWS service that writes with the audit key has the statement its documentation asks for,
// scoped by a condition, and the conditions name the stack's real resources.
func TestAuditKeyPolicyLetsEachServiceUseItForTheStacksResourcesOnly(t *testing.T) {
	run := mustRun(t, baseConfig())
	policy := run.named("aws:kms/key:Key", "keys-audit").policy(t, "policy")
	trailARN := run.one("aws:cloudtrail/trail:Trail").outStr("arn")
	topicARN := run.one("aws:sns/topic:Topic").outStr("arn")
	var logGroupARNs []string
	for _, lg := range run.all("aws:cloudwatch/logGroup:LogGroup") {
		logGroupARNs = append(logGroupARNs, lg.outStr("arn"))
	}
	slices.Sort(logGroupARNs)

	tests := []struct {
		service  string
		action   string // an action the service needs
		operator string
		key      string
		want     []string
	}{
		// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
		{"cloudtrail.amazonaws.com", "kms:GenerateDataKey", "StringEquals", "aws:SourceArn", []string{trailARN}},
		{"cloudtrail.amazonaws.com", "kms:GenerateDataKey", "StringLike", "kms:EncryptionContext:aws:cloudtrail:arn", []string{"arn:aws:cloudtrail:*:" + mockAccount + ":trail/*"}},
		{"cloudtrail.amazonaws.com", "kms:DescribeKey", "StringEquals", "aws:SourceArn", []string{trailARN}},
		// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
		{"logs." + mockRegion + ".amazonaws.com", "kms:GenerateDataKey", "ArnEquals", "kms:EncryptionContext:aws:logs:arn", logGroupARNs},
		{"logs." + mockRegion + ".amazonaws.com", "kms:Decrypt", "ArnEquals", "kms:EncryptionContext:aws:logs:arn", logGroupARNs},
		// https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
		{"cloudwatch.amazonaws.com", "kms:GenerateDataKey", "StringEquals", "kms:EncryptionContext:aws:sns:topicArn", []string{topicARN}},
		{"cloudwatch.amazonaws.com", "kms:Decrypt", "StringEquals", "kms:EncryptionContext:aws:sns:topicArn", []string{topicARN}},
		{"events.amazonaws.com", "kms:GenerateDataKey", "StringEquals", "kms:EncryptionContext:aws:sns:topicArn", []string{topicARN}},
		{"events.amazonaws.com", "kms:Decrypt", "StringEquals", "kms:EncryptionContext:aws:sns:topicArn", []string{topicARN}},
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.action+" "+tt.key, func(t *testing.T) {
			var found bool
			for _, s := range keyStatementsFor(policy, tt.service) {
				if !slices.ContainsFunc(s.Action, func(a string) bool { return grants(a, tt.action) }) {
					continue
				}
				found = true
				got := slices.Clone([]string(s.Condition[tt.operator][tt.key]))
				slices.Sort(got)
				if !slices.Equal(got, tt.want) {
					t.Errorf("statement %s: %s %s = %v, want %v", s.Sid, tt.operator, tt.key, got, tt.want)
				}
			}
			if !found {
				t.Errorf("no statement lets %s %s", tt.service, tt.action)
			}
		})
	}
	// No service statement goes without a condition; the account's own decrypt needs CloudTrail's context.
	for _, s := range policy.Statement {
		if s.Principal.Service != nil && len(s.Condition) == 0 {
			t.Errorf("statement %s for %v has no condition", s.Sid, s.Principal.Service)
		}
	}
	read := statementBySid(t, policy, "ReadTrailLogFilesInTheAccount")
	if !slices.Equal(read.Action, []string{"kms:Decrypt"}) || read.Condition["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"] == nil {
		t.Errorf("log file decrypt %+v, want Decrypt bound to CloudTrail's encryption context", read)
	}
}

func TestAuditKeyEncryptsTrailLogGroupsAndTopic(t *testing.T) {
	run := mustRun(t, baseConfig())
	auditARN := run.named("aws:kms/key:Key", "keys-audit").outStr("arn")
	checks := map[string]string{
		"trail":           run.one("aws:cloudtrail/trail:Trail").str("kmsKeyId"),
		"topic":           run.one("aws:sns/topic:Topic").str("kmsMasterKeyId"),
		"trail log group": run.named("aws:cloudwatch/logGroup:LogGroup", "audit-trail-logs").str("kmsKeyId"),
		"app log group":   run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs").str("kmsKeyId"),
	}
	for what, key := range checks {
		if key != auditARN {
			t.Errorf("%s encrypted with %q, want the audit key", what, key)
		}
	}
}

// The task role and the app key's policy grant exactly the KMS operations the app's code calls
// (app/kms), read from its source, so that a new call fails here instead of in production and a
// removed one does not leave a permission behind.
func TestAppKeyUseIsWhatTheAppCalls(t *testing.T) {
	files, err := filepath.Glob("../app/kms/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("app/kms sources: %v", err)
	}
	call := regexp.MustCompile(`\.client\.([A-Z][A-Za-z]+)\(`)
	var called []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllSubmatch(src, -1) {
			if a := "kms:" + string(m[1]); !slices.Contains(called, a) {
				called = append(called, a)
			}
		}
	}
	if len(called) == 0 {
		t.Fatal("found no KMS client call in app/kms: the pattern no longer matches the code")
	}
	got := append([]string(nil), appKeyUse...)
	slices.Sort(got)
	slices.Sort(called)
	if !slices.Equal(got, called) {
		t.Errorf("the task role may %v, the app calls %v", got, called)
	}
}
