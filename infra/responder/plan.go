package responder

import (
	"fmt"
	"strings"
	"time"
)

// Decision is what the responder makes of a trigger.
type Decision string

const (
	DecideContain     Decision = "contain"      // revoke the task role's sessions, start fresh tasks
	DecideProtectKey  Decision = "protect-key"  // cancel the app key's scheduled deletion
	DecideRateLimited Decision = "rate-limited" // would contain, but contained less than an interval ago
	DecideReport      Decision = "report"       // the stack's concern, nothing to do: recorded, not announced
	DecideIgnore      Decision = "ignore"       // not the stack's concern: neither recorded nor announced
)

// ActionKind is one change the responder makes.
type ActionKind string

const (
	RevokeSessions    ActionKind = "revoke-role-sessions" // iam:PutRolePolicy AWSRevokeOlderSessions
	ForceNewTasks     ActionKind = "force-new-deployment" // ecs:UpdateService forceNewDeployment
	CancelKeyDeletion ActionKind = "cancel-key-deletion"  // kms:CancelKeyDeletion
)

// UndoKind is how a change is reversed.
type UndoKind string

const (
	UndoDeletePolicy  UndoKind = "delete-role-policy"  // the policy did not exist before: remove it
	UndoRestorePolicy UndoKind = "restore-role-policy" // put back Undo.PriorDocument exactly
	UndoNothing       UndoKind = "none"                // nothing was lost that could be put back
	UndoByPerson      UndoKind = "by-a-person"         // release does not do it: the commands are printed
)

// Action is one change with the exact undo it needs, as the plan decides it.
type Action struct {
	Kind ActionKind `json:"kind"`
	Why  string     `json:"why"`
	// RevokeSessions: the role and the document the responder writes.
	RoleName   string `json:"roleName,omitempty"`
	PolicyName string `json:"policyName,omitempty"`
	Document   string `json:"document,omitempty"`
	// ForceNewTasks.
	Cluster string `json:"cluster,omitempty"`
	Service string `json:"service,omitempty"`
	// CancelKeyDeletion.
	KeyARN string `json:"keyArn,omitempty"`

	Undo Undo `json:"undo"`
}

// Undo is what `kmswatch release` does for an action, with the state it needs.
type Undo struct {
	Kind          UndoKind `json:"kind"`
	PriorDocument string   `json:"priorDocument,omitempty"` // UndoRestorePolicy: byte for byte what GetRolePolicy returned
	Note          string   `json:"note,omitempty"`
	Commands      []string `json:"commands,omitempty"` // UndoByPerson
}

// State is what the executor observed just before deciding.
type State struct {
	// The task role's AWSRevokeOlderSessions document (URL-decoded), when the role has one.
	RevokePolicy    string
	HasRevokePolicy bool
	// When the last containment started, from the record store; zero when never.
	LastContainment time.Time
	// The app key's KeyState (Enabled, Disabled, PendingDeletion, ...), read for app key events.
	AppKeyState string
}

// Plan is the decision with its actions, before anything is applied.
type Plan struct {
	Decision Decision  `json:"decision"`
	DryRun   bool      `json:"dryRun"`
	Why      string    `json:"why"`
	Trigger  Trigger   `json:"trigger"`
	Actions  []Action  `json:"actions,omitempty"`
	Reported []string  `json:"reported,omitempty"` // what is reported and deliberately not done
	At       time.Time `json:"at"`
}

// Recorded: the decision concerns the stack, so the record store keeps it.
func (p Plan) Recorded() bool { return p.Decision != DecideIgnore }

// Announced: a person gets a message on the alert topic (the alarm's or rule's own
// notification already told them what fired; this says what the responder did about it).
func (p Plan) Announced() bool {
	return p.Decision == DecideContain || p.Decision == DecideProtectKey || p.Decision == DecideRateLimited
}

// keyStatePendingDeletion is KMS's KeyState while a deletion is scheduled.
// https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
const keyStatePendingDeletion = "PendingDeletion"

// Decide is the responder's whole judgement: a pure function of the trigger, the observed state,
// the stack and the time. It never reads a principal or a resource from the trigger to act on:
// the role, service and key come from the stack.
func Decide(t Trigger, st State, s Stack, now time.Time) Plan {
	p := Plan{Trigger: t, DryRun: s.Mode == ModeDryRun, At: now.UTC().Truncate(time.Second)}
	switch t.Kind {
	case AlarmTrigger:
		decideAlarm(&p, t.Alarm, st, s)
	case APICallTrigger:
		decideAPICall(&p, t.Call, st, s)
	default:
		p.Decision, p.Why = DecideIgnore, fmt.Sprintf("unknown trigger kind %q", t.Kind)
	}
	if s.Mode == ModeNotify && p.Decision != DecideIgnore {
		p.Decision, p.Actions = DecideReport, nil
		p.Why = "response is notify: the responder only records. " + p.Why
	}
	return p
}

func decideAlarm(p *Plan, a AlarmChange, st State, s Stack) {
	switch {
	case !s.containsOn(a.AlarmName):
		p.Decision = DecideIgnore
		p.Why = fmt.Sprintf("alarm %s does not contain (the containing alarms: %s)", a.AlarmName, strings.Join(s.ContainOnAlarms, ", "))
		return
	case a.State != "ALARM":
		p.Decision = DecideIgnore
		p.Why = fmt.Sprintf("alarm %s went to %s: the responder acts on ALARM only, and lifting a containment is a person's decision (kmswatch release)", a.AlarmName, a.State)
		return
	}
	if last := st.LastContainment; !last.IsZero() && p.At.Sub(last) < s.ContainmentInterval {
		p.Decision = DecideRateLimited
		p.Why = fmt.Sprintf("alarm %s is in ALARM, but the task role was contained at %s, less than %s ago: at most one new containment per %s",
			a.AlarmName, last.UTC().Format(time.RFC3339), s.ContainmentInterval, s.ContainmentInterval)
		p.Reported = []string{"no new revocation: the one in force still denies every session issued before its date (kmswatch status shows it)"}
		return
	}
	p.Decision = DecideContain
	p.Why = fmt.Sprintf("alarm %s is in ALARM (%s): the task role's credentials may be used outside the app", a.AlarmName, a.Reason)
	revoke := Action{
		Kind: RevokeSessions, RoleName: s.TaskRoleName, PolicyName: RevokePolicyName,
		Document: RevokeDocument(p.At),
		Why:      fmt.Sprintf("deny every request signed with %s credentials issued before %s, as IAM's \"Revoke active sessions\" does", s.TaskRoleName, p.At.Format(time.RFC3339)),
		Undo:     Undo{Kind: UndoDeletePolicy, Note: "remove the " + RevokePolicyName + " policy the responder added; the role had none"},
	}
	if st.HasRevokePolicy {
		revoke.Undo = Undo{Kind: UndoRestorePolicy, PriorDocument: st.RevokePolicy,
			Note: "put back the " + RevokePolicyName + " document the role had before, exactly"}
		if before, ok := RevokedBefore(st.RevokePolicy); ok {
			revoke.Why += fmt.Sprintf(" (updates the revocation of %s)", before.UTC().Format(time.RFC3339))
		}
	}
	p.Actions = []Action{revoke, {
		Kind: ForceNewTasks, Cluster: s.Cluster, Service: s.Service,
		Why: fmt.Sprintf("start fresh tasks of service %s: their credentials are issued after the revocation, so the app keeps serving", s.Service),
		Undo: Undo{Kind: UndoNothing,
			Note: "the new tasks run the same task definition as the old ones; there is nothing to put back"},
	}}
}

func decideAPICall(p *Plan, c APICall, st State, s Stack) {
	key := s.stackKey(c)
	switch {
	case c.EventSource != "kms.amazonaws.com" || key == "":
		p.Decision = DecideIgnore
		p.Why = fmt.Sprintf("%s on %s: not one of the stack's keys", c.EventName, strings.Join(c.KeyARNs, ", "))
		return
	case c.ErrorCode != "":
		p.Decision = DecideReport
		p.Why = fmt.Sprintf("%s by %s on %s failed (%s): nothing changed, nothing to undo", c.EventName, c.Caller, key, c.ErrorCode)
		return
	case key == s.AuditKeyARN:
		p.Decision = DecideReport
		p.Why = fmt.Sprintf("%s by %s on the audit key: reported only. The responder never acts on the audit key and has no permission on it beyond publishing to the encrypted alert topic", c.EventName, c.Caller)
		p.Reported = []string{c.EventName + " on the audit key " + key + ": a person decides"}
		return
	}
	switch c.EventName {
	case "ScheduleKeyDeletion":
		if st.AppKeyState != keyStatePendingDeletion {
			p.Decision = DecideReport
			p.Why = fmt.Sprintf("ScheduleKeyDeletion by %s on the app key, but the key is %s now, not %s: nothing to cancel", c.Caller, st.AppKeyState, keyStatePendingDeletion)
			return
		}
		p.Decision = DecideProtectKey
		p.Why = fmt.Sprintf("ScheduleKeyDeletion by %s from %s on the app key: once deleted, every stored record is unreadable", c.Caller, c.SourceIP)
		window := c.PendingWindowDays
		if window == 0 {
			window = 30 // KMS's default pending window
		}
		p.Actions = []Action{{
			Kind: CancelKeyDeletion, KeyARN: key,
			Why: "cancel the deletion; KMS leaves a cancelled key Disabled, so the app's encrypts and decrypts fail until a person enables it",
			Undo: Undo{Kind: UndoByPerson,
				Note: "release does not enable or re-schedule a key: a person decides. After CancelKeyDeletion the key is Disabled",
				Commands: []string{
					"aws kms enable-key --key-id " + key,
					fmt.Sprintf("aws kms schedule-key-deletion --key-id %s --pending-window-in-days %d", key, window),
				}},
		}}
		p.Reported = []string{"the key stays Disabled until a person enables it (aws kms enable-key --key-id " + key + ")"}
	case "DisableKey":
		p.Decision = DecideReport
		p.Why = fmt.Sprintf("DisableKey by %s on the app key: reported, not undone; the app fails until a person enables the key", c.Caller)
		p.Reported = []string{"enable it again with: aws kms enable-key --key-id " + key}
	default:
		p.Decision = DecideReport
		p.Why = fmt.Sprintf("%s by %s on the app key: reported, not undone", c.EventName, c.Caller)
	}
}

// stackKey is the stack key (app or audit) the call is about, or "".
func (s Stack) stackKey(c APICall) string {
	for _, k := range c.KeyARNs {
		if k == s.AppKeyARN || k == s.AuditKeyARN {
			return k
		}
	}
	return ""
}

// ConcernsAppKey reports whether the executor must read the app key's state before deciding.
func (s Stack) ConcernsAppKey(t Trigger) bool {
	return t.Kind == APICallTrigger && s.stackKey(t.Call) == s.AppKeyARN && s.AppKeyARN != ""
}

// Permits is the last check before a call: the action's target is the stack's own task role,
// service or app key, never anything a trigger named. The executor refuses anything else.
func (s Stack) Permits(a Action) error {
	switch a.Kind {
	case RevokeSessions:
		if a.RoleName != s.TaskRoleName || a.PolicyName != RevokePolicyName {
			return fmt.Errorf("refused: %s on role %q policy %q; the responder may only write %s on %s", a.Kind, a.RoleName, a.PolicyName, RevokePolicyName, s.TaskRoleName)
		}
	case ForceNewTasks:
		if a.Cluster != s.Cluster || a.Service != s.Service {
			return fmt.Errorf("refused: %s on %s/%s; the responder may only redeploy %s/%s", a.Kind, a.Cluster, a.Service, s.Cluster, s.Service)
		}
	case CancelKeyDeletion:
		if a.KeyARN != s.AppKeyARN {
			return fmt.Errorf("refused: %s on %s; the responder may only act on the app key %s", a.Kind, a.KeyARN, s.AppKeyARN)
		}
	default:
		return fmt.Errorf("refused: unknown action %q", a.Kind)
	}
	return nil
}
