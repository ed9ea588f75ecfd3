package rules

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// recordFields indexes every record field that a rule condition or a summary reads; the scanner
// extracts these and skips the rest.
var recordFields = newFieldIndex(
	"eventID", "eventTime", "eventSource", "eventName", "errorCode", "sourceIPAddress",
	"userIdentity.arn", "userIdentity.invokedBy",
	// The app's slog lines (app/http): time, event, reason, client_ip, kms_error, error_code.
	"time", "event", "reason", "client_ip", "kms_error", "error_code",
	"digestStartTime", // marks a CloudTrail digest file, which holds no events
)

var (
	slotEventID     = recordFields.slot("eventID")
	slotEventTime   = recordFields.slot("eventTime")
	slotEventSource = recordFields.slot("eventSource")
	slotEventName   = recordFields.slot("eventName")
	slotErrorCode   = recordFields.slot("errorCode")
	slotSourceIP    = recordFields.slot("sourceIPAddress")
	slotARN         = recordFields.slot("userIdentity.arn")
	slotInvokedBy   = recordFields.slot("userIdentity.invokedBy")
	slotTime        = recordFields.slot("time")
	slotEvent       = recordFields.slot("event")
	slotReason      = recordFields.slot("reason")
	slotClientIP    = recordFields.slot("client_ip")
	slotKMSError    = recordFields.slot("kms_error")
	slotErrorCode2  = recordFields.slot("error_code")
	slotDigest      = recordFields.slot("digestStartTime")
)

func init() {
	// Condition fields join the index once, before any scan; bind looks them up read-only.
	for _, r := range Default() {
		for _, c := range r.when {
			for _, f := range c.fieldPaths() {
				recordFields.slot(f)
			}
		}
	}
}

// Record is one log event, a CloudTrail record or one of the app's JSON log lines, with the
// fields the rules read.
type Record struct{ f *fields }

// ParseRecord parses one JSON object. The Record keeps no reference to data.
func ParseRecord(data []byte) (Record, error) {
	s := scanner{data: bytes.Clone(data), idx: recordFields}
	f := &fields{}
	f.reset(len(recordFields.paths))
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return Record{}, errors.New("want a JSON object")
	}
	if err := s.object(recordFields.root, f, nil); err != nil {
		return Record{}, err
	}
	if s.skipWS(); s.pos != len(s.data) {
		return Record{}, s.errorf("unexpected data after the object")
	}
	return Record{f: f}, nil
}

// IsAppLog reports whether the record is one of the app's slog lines: it has slog's top-level
// "time" and none of CloudTrail's fields. Security events among them also carry "event".
func (r Record) IsAppLog() bool {
	return r.f != nil && r.f.has(slotTime) && !r.f.has(slotEventSource) && !r.f.has(slotEventTime)
}

// Summary is what a person needs to see of a matched record.
type Summary struct {
	EventID         string
	EventTime       time.Time
	EventName       string
	ErrorCode       string
	Principal       string
	SourceIPAddress string
}

var (
	errNoTime   = errors.New("missing eventTime")
	errNoSource = errors.New("missing eventSource")
	errNoName   = errors.New("missing eventName")
)

// Summarize checks that the record has the fields replay relies on and extracts them. CloudTrail
// records need eventTime, eventSource and eventName; app log lines need time and event.
func (r Record) Summarize() (Summary, error) {
	if r.f == nil {
		return Summary{}, errors.New("no record")
	}
	if r.IsAppLog() || (r.f.has(slotEvent) && !r.f.has(slotEventSource)) {
		return r.summarizeAppLog()
	}
	f := r.f
	raw := f.str(slotEventTime)
	if raw == "" {
		return Summary{}, errNoTime
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return Summary{}, fmt.Errorf("eventTime %q: not an RFC 3339 time", raw)
	}
	if f.str(slotEventSource) == "" {
		return Summary{}, errNoSource
	}
	name := f.str(slotEventName)
	if name == "" {
		return Summary{}, errNoName
	}
	return Summary{
		EventID:         f.str(slotEventID),
		EventTime:       t,
		EventName:       name,
		ErrorCode:       f.str(slotErrorCode),
		Principal:       firstNonEmpty(f.str(slotARN), f.str(slotInvokedBy)), // a service event has no ARN
		SourceIPAddress: f.str(slotSourceIP),
	}, nil
}

// summarizeAppLog reads one of the app's slog JSON lines.
func (r Record) summarizeAppLog() (Summary, error) {
	f := r.f
	raw := f.str(slotTime)
	if raw == "" {
		return Summary{}, errors.New("app log line: missing time")
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return Summary{}, fmt.Errorf("app log line: time %q: not an RFC 3339 time", raw)
	}
	return Summary{
		EventTime:       t,
		EventName:       f.str(slotEvent),
		ErrorCode:       firstNonEmpty(f.str(slotKMSError), f.str(slotErrorCode2), f.str(slotReason)),
		SourceIPAddress: f.str(slotClientIP),
	}, nil
}

// checkShape is the cheap test of an unmatched record: it must be a CloudTrail record or an app
// log line, so that a file of something else is reported rather than silently matching nothing.
func (r Record) checkShape() error {
	f := r.f
	if r.IsAppLog() {
		return nil
	}
	switch {
	case !f.has(slotEventTime):
		return errNoTime
	case !f.has(slotEventSource):
		return errNoSource
	case !f.has(slotEventName):
		return errNoName
	}
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
