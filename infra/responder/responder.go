// Package responder decides what kmswatch does when one of its alarms or key-change rules fires:
// contain the app's task role (revoke its active sessions, then start fresh tasks), cancel a
// scheduled deletion of the app key, or only report. It separates deciding from doing, as
// Terraform separates plan from apply: Decide is a pure function of the trigger and the observed
// state that returns a Plan whose every action carries the exact undo it needs; package executor
// applies plans through the AWS clients and writes the Record that `kmswatch release` undoes from.
// This package imports no AWS SDK.
package responder

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Mode is the stack's `response` setting.
type Mode string

const (
	// ModeNotify: email only. The stack deploys no responder at all.
	ModeNotify Mode = "notify"
	// ModeDryRun: record and announce what would be done; read-only permissions.
	ModeDryRun Mode = "dryRun"
	// ModeContain: the actions below, for real.
	ModeContain Mode = "contain"
)

// Modes lists the accepted values in the order the README presents them.
var Modes = []Mode{ModeNotify, ModeDryRun, ModeContain}

// ParseMode accepts exactly the spelling of Pulumi.yaml.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("response %q: want one of %s", s, joinModes())
}

func joinModes() string {
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// Stack is everything the responder may act on, fixed at deploy time. Nothing in a trigger can
// widen it: the principal contained is always TaskRoleName, whoever the alarm or event names.
type Stack struct {
	Mode         Mode
	TaskRoleName string // the stack's own ECS task role, the only principal the responder touches
	TaskRoleARN  string
	Cluster      string // ECS cluster name
	Service      string // ECS service name
	AppKeyARN    string // the only key the responder acts on (CancelKeyDeletion)
	AuditKeyARN  string // never acted on: report only
	// ContainOnAlarms are the alarm names whose ALARM state contains the task role.
	ContainOnAlarms []string
	// ContainmentInterval: at most one new containment per interval; later firings are recorded
	// and announced as rate-limited.
	ContainmentInterval time.Duration
}

// Validate reports every missing or malformed field at once.
func (s Stack) Validate() error {
	var errs []error
	if _, err := ParseMode(string(s.Mode)); err != nil {
		errs = append(errs, err)
	}
	for name, v := range map[string]string{
		"task role name": s.TaskRoleName, "task role ARN": s.TaskRoleARN, "ECS cluster": s.Cluster,
		"ECS service": s.Service, "app key ARN": s.AppKeyARN, "audit key ARN": s.AuditKeyARN,
	} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s is empty", name))
		}
	}
	if s.TaskRoleARN != "" && !strings.HasSuffix(s.TaskRoleARN, ":role/"+s.TaskRoleName) && !strings.HasSuffix(s.TaskRoleARN, "/"+s.TaskRoleName) {
		errs = append(errs, fmt.Errorf("task role ARN %q does not name role %q", s.TaskRoleARN, s.TaskRoleName))
	}
	if s.AppKeyARN != "" && s.AppKeyARN == s.AuditKeyARN {
		errs = append(errs, errors.New("app key and audit key are the same key"))
	}
	if len(s.ContainOnAlarms) == 0 {
		errs = append(errs, errors.New("no alarm contains: name at least one"))
	}
	if s.ContainmentInterval < time.Minute {
		errs = append(errs, fmt.Errorf("containment interval %s: want at least one minute", s.ContainmentInterval))
	}
	sort := slices.Clone(s.ContainOnAlarms)
	slices.Sort(sort)
	if len(slices.Compact(sort)) != len(s.ContainOnAlarms) {
		errs = append(errs, errors.New("an alarm is named twice"))
	}
	return errors.Join(errs...)
}

func (s Stack) containsOn(alarm string) bool { return slices.Contains(s.ContainOnAlarms, alarm) }

// Errors the executor and the CLI tell apart.
var (
	ErrNotFound = errors.New("no such record")
	ErrExists   = errors.New("record exists")
	// ErrChanged: the role's policy is no longer what the responder wrote; someone changed it
	// since, and restoring the record's prior state would overwrite their change.
	ErrChanged = errors.New("changed since the responder wrote it")
	// ErrSessionsLive: lifting the revocation now would let sessions issued before it work again,
	// the copied credentials it was written against among them, for as long as they last.
	ErrSessionsLive = errors.New("revoked sessions may still be valid")
)
