package rules

import "time"

// The span of a replay: the earliest and latest event time of every record judged, matched or
// not, so that a report draws each rule over the whole history, quiet minutes included, and
// tune counts the periods in which nothing matched.

// timeSpan is the earliest and latest of a set of event times; the zero value holds none.
type timeSpan struct{ first, last time.Time }

func (s *timeSpan) add(t time.Time) {
	if s.first.IsZero() || t.Before(s.first) {
		s.first = t
	}
	if s.last.IsZero() || t.After(s.last) {
		s.last = t
	}
}

func (s *timeSpan) merge(o timeSpan) {
	if !o.first.IsZero() {
		s.add(o.first)
		s.add(o.last)
	}
}

// noteTime widens the file's span with the record's event time: eventTime for CloudTrail, time
// for the app's lines. A time that does not parse is left out here; a matched record with one
// is reported as a problem where it is summarised.
func (fr *fileReader) noteTime(rec Record) {
	raw := rec.f.bytes(slotEventTime)
	if len(raw) == 0 {
		raw = rec.f.bytes(slotTime)
	}
	if len(raw) == 0 {
		return
	}
	// CloudTrail writes every eventTime as 2014-11-04T00:52:43Z, in which the text's order is the
	// time's: such times are compared as text and only the file's two ends parsed, at its end (an
	// end that then does not parse, a month 13, is left out of the span).
	if cloudTrailSpelling(raw) {
		fr.ends.add(raw)
		return
	}
	if t, err := parseEventTime(raw); err == nil {
		fr.out.span.add(t)
	}
}

// cloudTrailSpelling is true for a time written as CloudTrail writes eventTime.
func cloudTrailSpelling(raw []byte) bool {
	return len(raw) == len(spelledTime{}) && raw[4] == '-' && raw[10] == 'T' && raw[len(raw)-1] == 'Z'
}

type spelledTime [len("2006-01-02T15:04:05Z")]byte

// spelledEnds are the earliest and latest times of a file in CloudTrail's spelling.
type spelledEnds struct {
	first, last spelledTime
	any         bool
}

func (e *spelledEnds) add(raw []byte) {
	switch {
	case !e.any:
		copy(e.first[:], raw)
		copy(e.last[:], raw)
		e.any = true
	case string(raw) > string(e.last[:]):
		copy(e.last[:], raw)
	case string(raw) < string(e.first[:]):
		copy(e.first[:], raw)
	}
}

// finishSpan adds the file's spelled ends to its span and starts the next file afresh.
func (fr *fileReader) finishSpan() {
	if !fr.ends.any {
		return
	}
	for _, raw := range [2][]byte{fr.ends.first[:], fr.ends.last[:]} {
		if t, err := parseEventTime(raw); err == nil {
			fr.out.span.add(t)
		}
	}
	fr.ends = spelledEnds{}
}

// First and Last are the earliest and latest event times among the records the rules judged
// (zero when none had a readable time), when the replay kept its span (ReplayOptions.Span).
func (res *ReplayResult) First() time.Time { return res.span.first }

// Last: see First.
func (res *ReplayResult) Last() time.Time { return res.span.last }
