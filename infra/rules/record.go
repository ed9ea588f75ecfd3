package rules

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// recordFields indexes every record field that a rule condition, a summary or the reader's
// telling of shapes apart reads; the scanner extracts these and skips the rest.
var recordFields = newFieldIndex(
	"eventID", "eventTime", "eventSource", "eventName", "errorCode", "sourceIPAddress",
	"userIdentity.arn", "userIdentity.invokedBy", "userIdentity.accountId",
	"recipientAccountId", "awsRegion", "eventVersion", "eventType",
	// CloudTrail Insights events: recognised, counted and shown, not judged.
	"insightDetails.state", "insightDetails.eventSource", "insightDetails.eventName", "insightDetails.insightType",
	// The app's slog lines (app/http): time, event, reason, client_ip, kms_error, error_code.
	"time", "event", "reason", "client_ip", "kms_error", "error_code",
	"digestStartTime", // marks a CloudTrail digest file, which holds no events
	// The join of a trail's Decrypt with the app's decrypt_served line (join.go).
	"requestID", "kms_request_id",
	// Wrappers: an EventBridge event ("detail" holds the record), an item of
	// `aws cloudtrail lookup-events` (the record as a JSON string) and of `aws logs filter-log-events`.
	"detail-type", "account", "region", "CloudTrailEvent", "message", "logStreamName", "ingestionTime",
)

var (
	slotEventID       = recordFields.slot("eventID")
	slotEventTime     = recordFields.slot("eventTime")
	slotEventSource   = recordFields.slot("eventSource")
	slotEventName     = recordFields.slot("eventName")
	slotErrorCode     = recordFields.slot("errorCode")
	slotSourceIP      = recordFields.slot("sourceIPAddress")
	slotARN           = recordFields.slot("userIdentity.arn")
	slotInvokedBy     = recordFields.slot("userIdentity.invokedBy")
	slotCallerAccount = recordFields.slot("userIdentity.accountId")
	slotRecipient     = recordFields.slot("recipientAccountId")
	slotAWSRegion     = recordFields.slot("awsRegion")
	slotEventVersion  = recordFields.slot("eventVersion")
	slotEventType     = recordFields.slot("eventType")
	slotInsightState  = recordFields.slot("insightDetails.state")
	slotInsightSource = recordFields.slot("insightDetails.eventSource")
	slotInsightName   = recordFields.slot("insightDetails.eventName")
	slotInsightType   = recordFields.slot("insightDetails.insightType")
	slotTime          = recordFields.slot("time")
	slotEvent         = recordFields.slot("event")
	slotReason        = recordFields.slot("reason")
	slotClientIP      = recordFields.slot("client_ip")
	slotKMSError      = recordFields.slot("kms_error")
	slotErrorCode2    = recordFields.slot("error_code")
	slotDigest        = recordFields.slot("digestStartTime")
	slotDetailType    = recordFields.slot("detail-type")
	slotEnvAccount    = recordFields.slot("account")
	slotEnvRegion     = recordFields.slot("region")
	slotCloudTrailEv  = recordFields.slot("CloudTrailEvent")
	slotMessage       = recordFields.slot("message")
	slotLogStream     = recordFields.slot("logStreamName")
	slotIngestionTime = recordFields.slot("ingestionTime")
	slotRequestID     = recordFields.slot("requestID")
	slotKMSRequestID  = recordFields.slot("kms_request_id")
)

func init() {
	// The keys whose values are handed on rather than indexed: containers of items at a
	// document's top level, and the record inside an EventBridge event.
	recordFields.special("Records", nodeContainer, shapeTrailFile)
	recordFields.special("Events", nodeContainer, shapeLookupEvents)
	recordFields.special("events", nodeContainer, shapeLogEvents)
	recordFields.special("QueryResultRows", nodeContainer, shapeLake)
	recordFields.special("detail", nodeNested, shapeEventBridge)
	// Condition fields join the index once, before any scan; bind looks them up read-only.
	for _, r := range Default() {
		for _, c := range r.allConds() {
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
	s := scanner{idx: recordFields}
	s.setData(bytes.Clone(data))
	f := &fields{}
	f.reset(len(recordFields.paths))
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return Record{}, errors.New("want a JSON object")
	}
	if err := s.object(recordFields.root, f); err != nil {
		return Record{}, err
	}
	if !s.atEnd() {
		return Record{}, s.errorf("unexpected data after the object")
	}
	return Record{f: f}, nil
}

// IsAppLog reports whether the record is one of the app's slog lines: it has slog's top-level
// "time" and none of CloudTrail's fields. Security events among them also carry "event".
func (r Record) IsAppLog() bool {
	return r.f != nil && r.f.has(slotTime) && !r.f.has(slotEventSource) && !r.f.has(slotEventTime)
}

// isInsight reports a CloudTrail Insights event: "eventType" is always AwsCloudTrailInsight.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-insights-fields-trails.html
func (r Record) isInsight() bool {
	return bytes.Equal(r.f.bytes(slotEventType), []byte("AwsCloudTrailInsight")) ||
		(r.f.has(slotInsightType) && !r.f.has(slotEventSource))
}

// looksLikeCloudTrail is true when the object has any field every CloudTrail record has; one
// with none of them is not a broken record but JSON of another kind.
func (r Record) looksLikeCloudTrail() bool {
	f := r.f
	return f.has(slotEventTime) || f.has(slotEventSource) || f.has(slotEventName) || f.has(slotEventVersion)
}

// Summary is what a person needs to see of a matched record.
type Summary struct {
	EventID         string
	EventTime       time.Time
	EventName       string
	ErrorCode       string
	Principal       string
	SourceIPAddress string
	RequestID       string // CloudTrail's requestID; in replay's matches, only those of a rule that joins on it
	Key             string // the KMS key the call used, as its record names it (see matchedKey); in a replay, with ReplayOptions.MatchKeys
}

// summaryFields is a Summary still in the scanner's bytes, so that a match is encoded without
// a string allocation per field.
type summaryFields struct {
	eventTime                                         time.Time
	eventID, eventName, errorCode, principal, ip, key []byte
	requestID                                         []byte // only for a join rule's match
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
	sf, err := r.summaryFields()
	if err != nil {
		return Summary{}, err
	}
	sf.key = matchedKey(r.f)
	return Summary{
		EventID: string(sf.eventID), EventTime: sf.eventTime, EventName: string(sf.eventName),
		ErrorCode: string(sf.errorCode), Principal: string(sf.principal), SourceIPAddress: string(sf.ip),
		RequestID: string(r.f.bytes(slotRequestID)),
		Key:       string(sf.key),
	}, nil
}

func (r Record) summaryFields() (summaryFields, error) {
	f := r.f
	if r.IsAppLog() || (f.has(slotEvent) && !f.has(slotEventSource)) {
		return r.appLogSummary()
	}
	raw := f.bytes(slotEventTime)
	if len(raw) == 0 {
		return summaryFields{}, errNoTime
	}
	t, err := parseEventTime(raw)
	if err != nil {
		return summaryFields{}, fmt.Errorf("eventTime %q: %w", raw, err)
	}
	if len(f.bytes(slotEventSource)) == 0 {
		return summaryFields{}, errNoSource
	}
	name := f.bytes(slotEventName)
	if len(name) == 0 {
		return summaryFields{}, errNoName
	}
	principal := f.bytes(slotARN)
	if len(principal) == 0 {
		principal = f.bytes(slotInvokedBy) // a service event has no ARN
	}
	return summaryFields{
		eventTime: t, eventID: f.bytes(slotEventID), eventName: name, errorCode: f.bytes(slotErrorCode),
		principal: principal, ip: f.bytes(slotSourceIP),
	}, nil
}

// appLogSummary reads one of the app's slog JSON lines.
func (r Record) appLogSummary() (summaryFields, error) {
	f := r.f
	raw := f.bytes(slotTime)
	if len(raw) == 0 {
		return summaryFields{}, errors.New("app log line: missing time")
	}
	t, err := parseEventTime(raw)
	if err != nil {
		return summaryFields{}, fmt.Errorf("app log line: time %q: %w", raw, err)
	}
	code := f.bytes(slotKMSError)
	if len(code) == 0 {
		code = f.bytes(slotErrorCode2)
	}
	if len(code) == 0 {
		code = f.bytes(slotReason)
	}
	return summaryFields{eventTime: t, eventName: f.bytes(slotEvent), errorCode: code, ip: f.bytes(slotClientIP)}, nil
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

// parseEventTime reads the times records carry: RFC 3339 as CloudTrail writes eventTime
// ("2014-11-04T00:52:43Z") and slog writes time, and "2024-01-01 00:00:00.000" as CloudTrail
// Lake query results print eventTime, which is UTC like every CloudTrail eventTime.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-lake-examples.html
func parseEventTime(b []byte) (time.Time, error) {
	// yyyy-mm-dd?hh:mm:ss
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' || (b[10] != 'T' && b[10] != ' ') {
		return time.Time{}, errors.New("not an RFC 3339 time, nor one like 2024-01-01 00:00:00.000")
	}
	var v [6]int
	for i, at := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		for _, c := range b[at[0]:at[1]] {
			if c < '0' || c > '9' {
				return time.Time{}, errors.New("not a time: a field is not a number")
			}
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	rest := b[19:]
	nanos, scale := 0, 1_000_000_000
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if scale > 1 {
				scale /= 10
				nanos += int(rest[i]-'0') * scale
			}
		}
		if i == 1 {
			return time.Time{}, errors.New("not a time: a dot without fraction digits")
		}
		rest = rest[i:]
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60 {
		return time.Time{}, errors.New("not a time: a field is out of range")
	}
	loc := time.UTC
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 0 && b[10] == ' ':
		// The Lake form has no zone: UTC.
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		t, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return time.Time{}, errors.New("not an RFC 3339 time")
		}
		return t, nil
	default:
		return time.Time{}, errors.New("not an RFC 3339 time: no time zone")
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], nanos, loc)
	if t.Day() != v[2] {
		return time.Time{}, errors.New("not a time: no such day")
	}
	return t, nil
}
