package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// unmatchedDecrypts is `kmswatch replay --role-arn <task role>` on the trail and the app's log
// afterwards: the offline join (app-decrypt-unmatched) must name every Decrypt the copy made while
// the app's log covers it, and none the app served.
func (x *exfiltration) unmatchedDecrypts() {
	rule, _ := rules.Lookup("app-decrypt-unmatched")
	res := rules.ReplayData(x.scenario, x.trailAndLogs(), rules.ReplayOptions{Rules: []rules.Rule{rule}, Params: x.params})
	step := loopStep{ID: "unmatched-decrypts", Title: "kmswatch replay --role-arn " + x.params.TaskRoleARN + " on the trail and the app's log (offline join)",
		Want: "every Decrypt by the task role without the app's decrypt_served line is the copy's, and every copy's Decrypt the app log covers is reported"}
	if len(res.Problems) > 0 {
		step.Got = res.Problems[0].Error()
		x.record(step)
		return
	}
	released := x.stepAt("released")
	copied := map[string]bool{} // the copy's successful Decrypts before the release, by request id
	after := 0                  // and after it, when the app's log has ended
	for _, r := range x.records("Decrypt", func(r trailRecord) bool { return r.ErrorCode == "" && r.SourceIP == attackerAddress }) {
		if r.EventTime.Before(released) {
			copied[r.RequestID] = true
		} else {
			after++
		}
	}
	var first, last time.Time
	byAddress := map[string]int{}
	reported := map[string]bool{}
	for _, m := range res.Matches {
		byAddress[m.SourceIPAddress]++
		reported[m.RequestID] = true
		if first.IsZero() {
			first = m.EventTime
		}
		last = m.EventTime
	}
	missed := 0
	for id := range copied {
		if !reported[id] {
			missed++
		}
	}
	step.OK = len(res.Matches) > 0 && byAddress[attackerAddress] == len(res.Matches) && missed == 0 && len(res.Matches) == len(copied)
	step.Got = fmt.Sprintf("%d unmatched Decrypts, all from %s (the copy), %s to %s: each of the copy's %d before the release; "+
		"its %d after the release, when the app's log has ended, not judged", len(res.Matches), attackerAddress,
		first.Format(time.TimeOnly), last.Format(time.TimeOnly), len(copied), after)
	if byAddress[attackerAddress] != len(res.Matches) {
		step.Got = fmt.Sprintf("%d unmatched Decrypts, %d of them from %s: the others are the app's", len(res.Matches), byAddress[attackerAddress], attackerAddress)
	}
	if len(res.Matches) > 0 {
		m := res.Matches[0]
		step.Details = append(step.Details, fmt.Sprintf("first: %s %s by %s from %s, request %s",
			m.EventTime.Format(time.RFC3339), m.EventName, m.Principal, m.SourceIPAddress, m.RequestID))
	}
	step.Details = append(step.Details, res.Notes...)
	x.record(step)
}

// detectionPaths prints, per signal, when it fired and how late its path sees a call, beside the
// CloudTrail path's: what issue 11's fast signals buy.
func (x *exfiltration) detectionPaths() {
	stolen := x.attackStart()
	var lines []string
	fastFirst := true
	var trailAt time.Time
	for i, sig := range x.signals {
		when := "never fired"
		if x.fired[i] && !x.firedAt[i].IsZero() {
			when = fmt.Sprintf("fired %s, %s after the copy's first Decrypt", x.firedAt[i].Format(time.TimeOnly), minutes(x.firedAt[i].Sub(stolen)))
		} else if at, ok := x.unstoppedAlarm(); ok && sig.id == "alarm" {
			when = fmt.Sprintf("never fired: the copy was refused first; had it decrypted on, ALARM at %s, %s after its first Decrypt",
				at.Format(time.TimeOnly), minutes(at.Sub(stolen)))
		}
		if sig.id == "alarm" {
			trailAt = x.firedAt[i]
		}
		lines = append(lines, fmt.Sprintf("%s: %s; %s", sig.name, when, sig.path(x.loop)))
	}
	for i, sig := range x.signals {
		if sig.id != "alarm" && (!x.fired[i] || (!trailAt.IsZero() && !x.firedAt[i].Before(trailAt))) {
			fastFirst = false
		}
	}
	x.record(loopStep{ID: "detection-paths", Title: "how soon each path saw the copy",
		Want: "each AWS/KMS alarm fired before the CloudTrail path's", OK: fastFirst,
		Got: strings.Join(lines[:1], ""), Details: lines[1:]})
}

// attackStart is when the copy made its first call.
func (x *exfiltration) attackStart() time.Time { return x.stepAt("credentials-stolen") }

// stepAt is when the step of that id happened; zero if it did not.
func (x *exfiltration) stepAt(id string) time.Time {
	for _, s := range x.steps {
		if s.ID == id {
			return s.At
		}
	}
	return time.Time{}
}

// unstoppedAlarm is when the trail's volume alarm would have fired had the copy decrypted the whole
// database at its rate: its own evaluation, on calls it never made.
func (x *exfiltration) unstoppedAlarm() (time.Time, bool) {
	rule, _ := rules.Lookup("app-decrypt-volume")
	start := x.attackStart()
	times := make([]time.Time, len(x.names))
	for i := range times {
		times[i] = start.Add(time.Duration(i) * attackInterval)
	}
	tr, ok := firstAlarm(rules.EvaluateArrivals(rule.Firing, rules.Delayed(times, x.delay)), start.Add(24*time.Hour))
	return tr.At, ok
}
