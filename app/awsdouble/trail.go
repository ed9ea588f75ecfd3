package awsdouble

import (
	"crypto/sha256"
	"encoding/json"
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

// identity is the assumed-role caller every record names; its JSON is built once.
type identity struct {
	head []byte // userIdentity up to the accessKeyId value
	tail []byte // from after the accessKeyId value to the end of userIdentity
}

const sessionName = "kmswatch-awsdouble"

func newIdentity(roleARN, account string, created time.Time) identity {
	roleName := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	roleID := fakeRoleID(roleARN)
	var h []byte
	h = append(h, `"userIdentity":{"type":"AssumedRole","principalId":`...)
	h = appendJSONString(h, roleID+":"+sessionName)
	h = append(h, `,"arn":`...)
	h = appendJSONString(h, "arn:aws:sts::"+account+":assumed-role/"+roleName+"/"+sessionName)
	h = append(h, `,"accountId":`...)
	h = appendJSONString(h, account)
	h = append(h, `,"accessKeyId":`...)
	var t []byte
	t = append(t, `,"sessionContext":{"sessionIssuer":{"type":"Role","principalId":`...)
	t = appendJSONString(t, roleID)
	t = append(t, `,"arn":`...)
	t = appendJSONString(t, roleARN)
	t = append(t, `,"accountId":`...)
	t = appendJSONString(t, account)
	t = append(t, `,"userName":`...)
	t = appendJSONString(t, roleName)
	t = append(t, `},"attributes":{"creationDate":"`...)
	t = created.AppendFormat(t, trailTimeLayout)
	t = append(t, `","mfaAuthenticated":"false"}}}`...)
	return identity{head: h, tail: t}
}

// fakeRoleID makes a stable role unique id in IAM's shape (AROA + 17 characters) from the role ARN.
func fakeRoleID(roleARN string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	sum := sha256.Sum256([]byte(roleARN))
	id := []byte("AROA")
	for _, b := range sum[:17] {
		id = append(id, alphabet[b%32])
	}
	return string(id)
}

const trailTimeLayout = "2006-01-02T15:04:05Z"

// event is what one request contributes to its record.
type event struct {
	source, name            string // eventSource, eventName
	requestID, eventID      string
	sourceIP, userAgent     string
	accessKeyID             string
	errorCode, errorMessage string
	params                  []byte  // requestParameters object, or nil for JSON null
	key                     *kmsKey // the resolved key, for resources
}

func (s *Server) appendRecord(b []byte, ev *event, at time.Time) []byte {
	b = append(b, `{"eventVersion":"1.08",`...)
	b = append(b, s.ident.head...)
	b = appendJSONString(b, ev.accessKeyID)
	b = append(b, s.ident.tail...)
	b = append(b, `,"eventTime":"`...)
	b = at.UTC().AppendFormat(b, trailTimeLayout)
	b = append(b, `","eventSource":"`...)
	b = append(b, ev.source...)
	b = append(b, `","eventName":`...)
	b = appendJSONString(b, ev.name)
	b = append(b, `,"awsRegion":`...)
	b = appendJSONString(b, s.opts.Region)
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
	if ev.params == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, ev.params...)
	}
	b = append(b, `,"responseElements":null,"requestID":`...)
	b = appendJSONString(b, ev.requestID)
	b = append(b, `,"eventID":`...)
	b = appendJSONString(b, ev.eventID)
	// Every operation the double serves is one CloudTrail marks read-only.
	b = append(b, `,"readOnly":true`...)
	if ev.key != nil {
		b = append(b, `,"resources":[{"accountId":`...)
		b = appendJSONString(b, s.opts.AccountID)
		b = append(b, `,"type":"AWS::KMS::Key","ARN":`...)
		b = appendJSONString(b, ev.key.arn)
		b = append(b, `}]`...)
	}
	b = append(b, `,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":`...)
	b = appendJSONString(b, s.opts.AccountID)
	b = append(b, `,"eventCategory":"Management"}`...)
	return b
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
