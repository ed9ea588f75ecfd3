package responder

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Status is where a record stands.
type Status string

const (
	// StatusPending: written before the first change, with the prior state, so that a crash part
	// way still leaves what is needed to undo (AWS's Automated Security Response snapshots the
	// same way before it remediates).
	StatusPending     Status = "pending"
	StatusContained   Status = "contained"
	StatusKeyRestored Status = "key-deletion-cancelled"
	StatusDryRun      Status = "dry-run"
	StatusRateLimited Status = "rate-limited"
	StatusReported    Status = "reported"
	StatusFailed      Status = "failed" // some action failed; Applied says which took effect
	StatusReleased    Status = "released"
)

// Record is what the store keeps of one decision: what, why, which alarm or event, and for every
// action whether it was applied and the exact prior state its undo needs.
type Record struct {
	ID       string         `json:"id"`
	Created  time.Time      `json:"created"`
	Mode     Mode           `json:"mode"`
	Status   Status         `json:"status"`
	Plan     Plan           `json:"plan"`
	Results  []ActionResult `json:"results,omitempty"` // one per Plan.Actions, same order
	Released *Release       `json:"released,omitempty"`
	// Announced: the message went out on the alert topic (a retry announces what is not).
	Announced bool `json:"announced,omitempty"`
}

// ActionResult is what happened to one planned action.
type ActionResult struct {
	Applied   bool      `json:"applied"`
	AppliedAt time.Time `json:"appliedAt,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// Release is when and how a record was undone.
type Release struct {
	At    time.Time `json:"at"`
	Steps []string  `json:"steps"`
}

// RecordID names a decision by its trigger, so that Lambda's retries of one invocation find the
// record they already wrote instead of acting twice: the trigger's own time (sortable, readable)
// and a hash of what identifies it (the alarm ARN and state time, or CloudTrail's eventID).
func RecordID(t Trigger, now time.Time) string {
	at, identity := now, ""
	switch t.Kind {
	case AlarmTrigger:
		identity = t.Alarm.AlarmARN + "|" + t.Alarm.AlarmName + "|" + t.Alarm.State + "|" + t.Alarm.Time.Format(time.RFC3339Nano)
		if !t.Alarm.Time.IsZero() {
			at = t.Alarm.Time
		}
	case APICallTrigger:
		identity = t.Call.EventID + "|" + t.Call.EventName
		if !t.Call.Time.IsZero() {
			at = t.Call.Time
		}
	}
	if identity == "" || (t.Kind == APICallTrigger && t.Call.EventID == "") {
		identity += now.Format(time.RFC3339Nano) // nothing stable to go by: one record per invocation
	}
	sum := sha256.Sum256([]byte(identity))
	return at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:])[:8]
}

// NewRecord starts the record of a plan: pending when it has actions to apply, else final.
func NewRecord(id string, p Plan, mode Mode) Record {
	r := Record{ID: id, Created: p.At, Mode: mode, Plan: p, Results: make([]ActionResult, len(p.Actions))}
	switch {
	case p.DryRun && len(p.Actions) > 0:
		r.Status = StatusDryRun
	case len(p.Actions) > 0:
		r.Status = StatusPending
	case p.Decision == DecideRateLimited:
		r.Status = StatusRateLimited
	default:
		r.Status = StatusReported
	}
	return r
}

// Resumable: a retried invocation applies what is not yet applied (a crash or a failed call part
// way); anything else was finished before.
func (r Record) Resumable() bool { return r.Status == StatusPending || r.Status == StatusFailed }

// Finish sets the final status once every action has been tried.
func (r *Record) Finish() {
	if !r.Resumable() {
		return
	}
	for _, res := range r.Results {
		if !res.Applied {
			r.Status = StatusFailed
			return
		}
	}
	r.Status = StatusContained
	if r.Plan.Decision == DecideProtectKey {
		r.Status = StatusKeyRestored
	}
}

// Containing: the record holds a revocation that is (or may be, after a failure) in force.
func (r Record) Containing() bool {
	if r.Status != StatusContained && r.Status != StatusFailed && r.Status != StatusPending {
		return false
	}
	for i, a := range r.Plan.Actions {
		if a.Kind == RevokeSessions && i < len(r.Results) && r.Results[i].Applied {
			return true
		}
	}
	return false
}
