package rules

import (
	"fmt"
	"time"
)

// The offline join: each CloudTrail Decrypt by the task role against the app's decrypt_served
// line for the same request. The app writes one such line per decrypt KMS served, its
// kms_request_id the x-amzn-RequestId KMS answered with, which CloudTrail records as the event's
// requestID (app/http decryptServed). A Decrypt by the task role with no such line was not made
// for the app's callers. Replay reads files in parallel and streams them, so the join keeps the
// request id of each served line (a 36-character UUID), never a record, and drops the matched
// Decrypts when the sorted matches are merged, after every file has been read.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html (requestID)

// servedJoin marks an Offline rule whose matches must lack an app line of event with the same
// request id.
type servedJoin struct{ event string }

// servedLineLag bounds how long after its Decrypt's eventTime the app writes the served line: the
// app's KMS call timeout, retries included (app/kms DefaultTimeout, 5 s), and CloudTrail's
// eventTime is whole seconds.
const servedLineLag = 6 * time.Second

// servedLines is what one worker saw of the app's log: the request ids of its served lines, and
// the times its app lines span, which say which Decrypts the log can vouch for.
type servedLines struct {
	event       []byte
	ids         map[string]struct{}
	first, last time.Time
	lines       int
}

func newServedLines(event string) *servedLines {
	return &servedLines{event: []byte(event), ids: map[string]struct{}{}}
}

// add reads one of the app's log lines.
func (s *servedLines) add(f *fields) {
	if t, err := parseEventTime(f.bytes(slotTime)); err == nil {
		if s.lines == 0 || t.Before(s.first) {
			s.first = t
		}
		if s.lines == 0 || t.After(s.last) {
			s.last = t
		}
		s.lines++
	}
	if string(f.bytes(slotEvent)) == string(s.event) {
		if id := f.bytes(slotKMSRequestID); len(id) > 0 {
			s.ids[string(id)] = struct{}{}
		}
	}
}

func (s *servedLines) merge(o *servedLines) {
	for id := range o.ids {
		s.ids[id] = struct{}{}
	}
	if o.lines == 0 {
		return
	}
	if s.lines == 0 || o.first.Before(s.first) {
		s.first = o.first
	}
	if s.lines == 0 || o.last.After(s.last) {
		s.last = o.last
	}
	s.lines += o.lines
}

// covers reports whether the app log read can hold the served line of a Decrypt at t: the line
// follows t by at most servedLineLag, so t must lie within the log's span, that much before its end.
func (s *servedLines) covers(t time.Time) bool {
	return s.lines > 0 && !t.Before(s.first.Add(-time.Second)) && !t.Add(servedLineLag).After(s.last)
}

// joinOutcome counts what the join made of one rule's candidates.
type joinOutcome struct{ unmatched, matched, unjudged int }

// notes are what a person must know of a join: Decrypts it could not judge, and why.
func (o joinOutcome) notes(r Rule, seen *servedLines) []string {
	if o.unjudged == 0 {
		return nil
	}
	decrypts, were, fall := fmt.Sprintf("%d Decrypts", o.unjudged), "were", "fall"
	if o.unjudged == 1 {
		decrypts, were, fall = "1 Decrypt", "was", "falls"
	}
	if seen.lines == 0 {
		return []string{fmt.Sprintf("%s: no app log lines among the inputs, so %s by the task role %s not judged: "+
			"replay the app's log group (its decrypt_served lines) with the trail", r.ID, decrypts, were)}
	}
	return []string{fmt.Sprintf("%s: %s by the task role %s outside the app log read (%s to %s) and %s not judged",
		r.ID, decrypts, fall, seen.first.UTC().Format(time.RFC3339), seen.last.UTC().Format(time.RFC3339), were)}
}
