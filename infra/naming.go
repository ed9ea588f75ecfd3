package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// awsEnv is where the stack deploys: the caller's account, the region and its partition.
type awsEnv struct {
	Account   string
	Region    string
	Partition string // aws, aws-cn, aws-us-gov
}

// arn builds a regional ARN in the stack's account: arn:<partition>:<service>:<region>:<account>:<resource>.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
func (e awsEnv) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", e.Partition, service, e.Region, e.Account, resource)
}

// rootARN is the account principal; in a key policy it delegates to the account's IAM policies.
func (e awsEnv) rootARN() string { return fmt.Sprintf("arn:%s:iam::%s:root", e.Partition, e.Account) }

// logsPrincipal is CloudWatch Logs' service principal, which is regional.
func (e awsEnv) logsPrincipal() string { return "logs." + e.Region + ".amazonaws.com" }

// stackNames are the physical names the stack gives resources that people look up by name or that
// other policies must name before the resource exists (trail, log groups, topic, alarms, rules).
// Everything else is auto-named by Pulumi (logical name + random suffix).
type stackNames struct{ prefix string }

const maxPrefixLen = 24

var notNameChar = regexp.MustCompile(`[^a-z0-9]+`)

// newStackNames derives "kmswatch-<stack>" in lower case, letters, digits and single hyphens,
// shortened with a hash when the stack name is long, so that every derived name fits AWS limits.
func newStackNames(project, stack string) stackNames {
	clean := strings.Trim(notNameChar.ReplaceAllString(strings.ToLower(stack), "-"), "-")
	if clean == "" {
		clean = "stack"
	}
	prefix := project + "-" + clean
	if len(prefix) > maxPrefixLen {
		sum := sha256.Sum256([]byte(stack))
		hash := hex.EncodeToString(sum[:])[:6]
		prefix = strings.TrimRight(prefix[:maxPrefixLen-len(hash)-1], "-") + "-" + hash
	}
	return stackNames{prefix: prefix}
}

func (n stackNames) Prefix() string            { return n.prefix }
func (n stackNames) Trail() string             { return n.prefix + "-trail" }
func (n stackNames) TrailLogGroup() string     { return "/" + n.prefix + "/cloudtrail" }
func (n stackNames) AppLogGroup() string       { return "/" + n.prefix + "/app" }
func (n stackNames) AlertTopic() string        { return n.prefix + "-alerts" }
func (n stackNames) Alarm(r rules.Rule) string { return r.AlarmName(n.prefix) }
func (n stackNames) Dashboard() string         { return n.prefix }
func (n stackNames) EventRule(ruleID string) string {
	return n.prefix + "-" + ruleID
}
func (n stackNames) Repository() string    { return n.prefix + "-app" }
func (n stackNames) Cluster() string       { return n.prefix }
func (n stackNames) TaskFamily() string    { return n.prefix + "-app" }
func (n stackNames) FinalSnapshot() string { return n.prefix + "-db-final" }
func (n stackNames) KeyAlias() string      { return "alias/" + n.prefix + "-app" }
func (n stackNames) AuditKeyAlias() string { return "alias/" + n.prefix + "-audit" }

// MetricNamespace is where the stack's metric filters publish and its alarms and dashboard read:
// "kmswatch/<prefix>", its own, so that another stack in the account (dev-<account>, any STACK)
// neither counts into this stack's metrics nor fires its alarms and responder.
func (n stackNames) MetricNamespace() string { return rules.StackMetricNamespace(n.prefix) }

// Predicted ARNs: policies created before these resources must name them exactly.
func (e awsEnv) trailARN(n stackNames) string   { return e.arn("cloudtrail", "trail/"+n.Trail()) }
func (e awsEnv) logGroupARN(name string) string { return e.arn("logs", "log-group:"+name) }
func (e awsEnv) topicARN(n stackNames) string   { return e.arn("sns", n.AlertTopic()) }
func (e awsEnv) alarmARN(name string) string    { return e.arn("cloudwatch", "alarm:"+name) }
func (e awsEnv) eventRuleARN(name string) string {
	return e.arn("events", "rule/"+name) // rules on the default event bus
}

// stackParams are the values the rules compare with in this stack: the task role, the app key
// (whose per-key metrics the Metrics rules read), the two keys, and the aliases people and the app
// name them by (DeleteAlias and UpdateAlias calls name the alias, not the key, so the key scope
// needs both); and the stack's own metric namespace.
func stackParams(taskRoleARN, appKeyARN string, keyARNs []string, n stackNames) rules.Params {
	return rules.Params{TaskRoleARN: taskRoleARN, AppKeyARN: appKeyARN, KeyARNs: keyARNs,
		KeyAliases: []string{n.KeyAlias(), n.AuditKeyAlias()}, MetricNamespace: n.MetricNamespace()}
}
