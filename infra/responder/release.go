package responder

import (
	"fmt"
	"time"
)

// ReleaseStep is one IAM call release makes: delete the revocation policy, or put back the
// document that was there before.
type ReleaseStep struct {
	Action   int    // index in the record's plan
	RoleName string // always the plan's own role
	Delete   bool   // DeleteRolePolicy; else PutRolePolicy with Document
	Document string
}

// PlanRelease decides release from the record and the role's current revocation document
// (current == "" when the role has none). It undoes only what the responder applied, in reverse
// order, and only while the policy is still what the responder wrote: if a person or a later
// containment changed it, release stops with ErrChanged instead of overwriting their change
// (release the later record first). force skips that check.
func PlanRelease(r Record, current string, hasCurrent, force bool) ([]ReleaseStep, error) {
	if r.Status == StatusReleased {
		return nil, fmt.Errorf("record %s was already released at %s", r.ID, r.Released.At.Format("2006-01-02T15:04:05Z07:00"))
	}
	if r.Plan.DryRun {
		return nil, fmt.Errorf("record %s is a dry run: nothing was changed, nothing to release", r.ID)
	}
	var steps []ReleaseStep
	for i := len(r.Plan.Actions) - 1; i >= 0; i-- {
		a := r.Plan.Actions[i]
		if a.Kind != RevokeSessions || i >= len(r.Results) || !r.Results[i].Applied {
			continue
		}
		if !force && (!hasCurrent || !SameDocument(current, a.Document)) {
			what := "the role has no " + RevokePolicyName + " policy now"
			if hasCurrent {
				what = "its document is now " + current
			}
			return nil, fmt.Errorf("%w: record %s wrote %s on %s as %s, but %s; release the later record first, or pass --force to undo anyway",
				ErrChanged, r.ID, RevokePolicyName, a.RoleName, a.Document, what)
		}
		step := ReleaseStep{Action: i, RoleName: a.RoleName}
		switch a.Undo.Kind {
		case UndoDeletePolicy:
			step.Delete = true
		case UndoRestorePolicy:
			step.Document = a.Undo.PriorDocument
		default:
			return nil, fmt.Errorf("record %s: action %d has undo %q, not a policy undo", r.ID, i, a.Undo.Kind)
		}
		steps = append(steps, step)
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("record %s (%s, %s) holds no revocation the responder applied: nothing for release to undo%s",
			r.ID, r.Plan.Decision, r.Status, byPersonHint(r))
	}
	return steps, nil
}

func byPersonHint(r Record) string {
	for _, a := range r.Plan.Actions {
		if a.Undo.Kind == UndoByPerson && len(a.Undo.Commands) > 0 {
			return "; " + a.Undo.Note + ": " + a.Undo.Commands[0]
		}
	}
	return ""
}

// SessionsExpireBy is the earliest release lets the record's revocation go: its date plus the
// role's maximum session duration, the longest IAM documents for a session assumed with
// AssumeRole. It is a floor, not a bound for the task's own credentials: ECS assumes the task role
// for the task, and IAM says of the setting "This setting does not limit sessions assumed by AWS
// services", so a copy of a task's session may be valid after it. Lifting the deny lets every
// session issued before its date, the copied credentials among them, work again for as long as it
// lasts; the deny harms no fresh credential (tasks started after the containment get sessions
// issued after its date), so leaving it in place is the safe choice. The zero time when the record
// revoked nothing.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html#id_roles_update-session-duration
func SessionsExpireBy(r Record, maxSession time.Duration) time.Time {
	var latest time.Time
	for i, a := range r.Plan.Actions {
		if a.Kind != RevokeSessions || i >= len(r.Results) || !r.Results[i].Applied {
			continue
		}
		if before, ok := RevokedBefore(a.Document); ok && before.Add(maxSession).After(latest) {
			latest = before.Add(maxSession)
		}
	}
	return latest
}

// CheckSessionsExpired refuses a release before SessionsExpireBy (ErrSessionsLive), saying until
// when and why even then the copied credentials may work again, unless early is set.
func CheckSessionsExpired(r Record, now time.Time, maxSession time.Duration, early bool) error {
	by := SessionsExpireBy(r, maxSession)
	if early || by.IsZero() || !now.Before(by) {
		return nil
	}
	return fmt.Errorf("%w: record %s denies sessions issued before %s, and release waits until %s: a session assumed with AssumeRole "+
		"lasts up to the role's maximum session duration (%s). That is no documented bound for the credentials ECS hands a task "+
		"(the setting does not limit sessions assumed by AWS services), so the copied credentials may work again even then. "+
		"The deny harms no fresh credential (tasks started since have sessions issued after its date): leaving the containment "+
		"in place is the safe choice. Release after %s only once the tasks that ran before it are stopped and you accept that risk, "+
		"or pass --early to lift it now and let every older session back in",
		ErrSessionsLive, r.ID, by.Add(-maxSession).UTC().Format(time.RFC3339), by.UTC().Format(time.RFC3339), maxSession, by.UTC().Format(time.RFC3339))
}
