package awsdouble

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The record shape follows CloudTrail's KMS examples in infra/rules/testdata/cloudtrail and
// https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html .
// Records are appended by hand rather than through encoding/json: the fields are fixed and this runs per request.

// trailRing keeps the newest records; older ones are overwritten.
type trailRing struct {
	mu    sync.Mutex
	buf   []json.RawMessage
	next  int // where the next record goes
	count int
}

func (t *trailRing) init(size int) { t.buf = make([]json.RawMessage, size) }

func (t *trailRing) add(rec json.RawMessage) {
	t.mu.Lock()
	t.buf[t.next] = rec
	t.next = (t.next + 1) % len(t.buf)
	if t.count < len(t.buf) {
		t.count++
	}
	t.mu.Unlock()
}

func (t *trailRing) snapshot() []json.RawMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]json.RawMessage, 0, t.count)
	start := (t.next - t.count + len(t.buf)) % len(t.buf)
	for i := range t.count {
		out = append(out, t.buf[(start+i)%len(t.buf)])
	}
	return out
}

const trailTimeLayout = "2006-01-02T15:04:05Z"

// eventVersion is CloudTrail's current record format, 1.11:
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
const eventVersion = "1.11"

// event is what one request contributes to its record.
type event struct {
	svc                     *service
	source, name            string // eventSource, eventName
	requestID, eventID      string
	sourceIP, userAgent     string
	principal               *principal
	at                      time.Time // eventTime, and the time policies are evaluated at
	errorCode, errorMessage string
	params                  []byte  // requestParameters object, or nil for JSON null
	response                []byte  // responseElements object, or nil for JSON null
	key                     *kmsKey // the resolved key, for resources
	resourceARN, resourceTy string  // a resource that is not a KMS key
	readOnly, dataEvent     bool
	form                    url.Values // a query protocol request's parameters
	errorExtra              []byte     // members the error body carries besides __type and message
}

// appendRecord writes ev as CloudTrail writes an AwsApiCall record, fields in the order of AWS's recent
// examples (ct-put-key-policy.md, ct-schedule-key-deletion.md in infra/rules/testdata/cloudtrail's sources).
// tlsDetails is what an SDK calling the service's endpoint over TLS 1.3 produces
// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-supported-tls-details.html lists
// every service here); the double itself is reached over plain HTTP, so those values are AWS's, not the
// connection's. sessionCredentialFromConsole is never written: no call here comes from the console.
func (s *Server) appendRecord(b []byte, ev *event) []byte {
	b = append(b, `{"eventVersion":"`+eventVersion+`",`...)
	b = append(b, ev.principal.userIdentity...)
	b = append(b, `,"eventTime":"`...)
	b = ev.at.AppendFormat(b, trailTimeLayout)
	b = append(b, `","eventSource":"`...)
	b = append(b, ev.source...)
	b = append(b, `","eventName":`...)
	b = appendJSONString(b, ev.name)
	b = append(b, `,"awsRegion":`...)
	if ev.svc.global {
		b = append(b, `"us-east-1"`...)
	} else {
		b = appendJSONString(b, s.opts.Region)
	}
	b = append(b, `,"sourceIPAddress":`...)
	b = appendJSONString(b, ev.sourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendJSONString(b, ev.userAgent)
	if ev.errorCode != "" {
		b = append(b, `,"errorCode":`...)
		b = appendJSONString(b, ev.errorCode)
		b = append(b, `,"errorMessage":`...)
		b = appendJSONString(b, ev.errorMessage)
	}
	b = append(b, `,"requestParameters":`...)
	b = appendObjectOrNull(b, ev.params)
	b = append(b, `,"responseElements":`...)
	if ev.errorCode != "" {
		b = append(b, "null"...)
	} else {
		b = appendObjectOrNull(b, ev.response)
	}
	b = append(b, `,"requestID":`...)
	b = appendJSONString(b, ev.requestID)
	b = append(b, `,"eventID":`...)
	b = appendJSONString(b, ev.eventID)
	if ev.readOnly {
		b = append(b, `,"readOnly":true`...)
	} else {
		b = append(b, `,"readOnly":false`...)
	}
	switch {
	case ev.key != nil:
		b = appendResource(b, s.opts.AccountID, "AWS::KMS::Key", ev.key.arn)
	case ev.resourceARN != "":
		b = appendResource(b, s.opts.AccountID, ev.resourceTy, ev.resourceARN)
	}
	b = append(b, `,"eventType":"AwsApiCall"`...)
	if ev.svc.apiVersion != "" {
		b = append(b, `,"apiVersion":"`...)
		b = append(b, ev.svc.apiVersion...)
		b = append(b, '"')
	}
	if ev.dataEvent {
		b = append(b, `,"managementEvent":false,"recipientAccountId":`...)
	} else {
		b = append(b, `,"managementEvent":true,"recipientAccountId":`...)
	}
	b = appendJSONString(b, s.opts.AccountID)
	if ev.dataEvent {
		b = append(b, `,"eventCategory":"Data"`...)
	} else {
		b = append(b, `,"eventCategory":"Management"`...)
	}
	b = append(b, s.tlsDetails[ev.svc.index]...)
	return append(b, '}')
}

func appendResource(b []byte, account, typ, arn string) []byte {
	b = append(b, `,"resources":[{"accountId":`...)
	b = appendJSONString(b, account)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"ARN":`...)
	b = appendJSONString(b, arn)
	return append(b, `}]`...)
}

func appendObjectOrNull(b, obj []byte) []byte {
	if obj == nil {
		return append(b, "null"...)
	}
	return append(b, obj...)
}

// tlsDetailsJSON is the record's tlsDetails member for a call to svc's endpoint in region.
func tlsDetailsJSON(svc *service, region string) []byte {
	b := []byte(`,"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":`)
	b = appendJSONString(b, svc.endpointHost(region))
	return append(b, '}')
}

// appendJSONString appends s as a JSON string literal, escaping as encoding/json does (minus HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendStringMap appends m as a JSON object with its keys in the order given.
func appendStringMap(b []byte, m map[string]string, sortedKeys []string) []byte {
	b = append(b, '{')
	for i, k := range sortedKeys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}
