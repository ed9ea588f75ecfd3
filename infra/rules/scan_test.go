package rules

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScannerExtractsFields(t *testing.T) {
	rec := mustParse(t, []byte(`{
		"eventName": "Decr\u0079pt", "eventSource": "kms.amazonaws.com", "eventTime": "2026-11-24T10:00:00Z",
		"requestParameters": {"eventName": "nested, not top-level", "list": [1, 2.5e3, -3, true, false, null, {"a": [[]]}]},
		"errorCode": null, "sourceIPAddress": "quote \" and slash \/",
		"resources": [{"ARN": "arn:one"}, {"ARN": "arn:two"}, {"other": 1}],
		"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/r/s", "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/r"}}}
	}`))
	f := rec.f
	if got := f.str(slotEventName); got != "Decrypt" {
		t.Errorf("eventName = %q: top level only, escapes decoded", got)
	}
	if got := f.str(slotSourceIP); got != `quote " and slash /` {
		t.Errorf("sourceIPAddress = %q", got)
	}
	if got := f.slots[slotErrorCode]; len(got) != 1 || got[0].kind != kindNull {
		t.Errorf("errorCode = %+v, want one null", got)
	}
	var arns []string
	for _, v := range f.slots[recordFields.mustSlot("resources.ARN")] {
		arns = append(arns, string(v.text))
	}
	if strings.Join(arns, ",") != "arn:one,arn:two" {
		t.Errorf("resources.ARN = %v", arns)
	}
	if got := f.str(recordFields.mustSlot("userIdentity.sessionContext.sessionIssuer.arn")); got != "arn:aws:iam::1:role/r" {
		t.Errorf("session issuer = %q", got)
	}
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // ranging yields utf8.RuneError for each invalid byte
	}
	return b.String()
}

// The scanner checks the structure of values it skips, not every escape inside their strings:
// those are decoded only for the fields it keeps.
func TestScannerRejectsMalformedJSON(t *testing.T) {
	for _, bad := range []string{
		``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":tru}`, `{"a":"unterminated}`,
		`{"a":[1,2}`, `{"a":1}}`, `{"eventName":"bad \q escape"}`, `{"eventName":"bad \u12 escape"}`,
		`{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
	} {
		if _, err := ParseRecord([]byte(bad)); err == nil {
			t.Errorf("ParseRecord(%.40q) accepted malformed JSON", bad)
		}
	}
}

// FuzzParseRecord checks the scanner against encoding/json: it never panics, accepts every JSON
// object encoding/json accepts, and reads the same eventName.
func FuzzParseRecord(f *testing.F) {
	for _, seed := range []string{
		`{"eventName":"Decrypt","x":[1,{"y":null}]}`, `{"eventName":"\ud83d\ude00"}`, `{}`, `{"a":"\\"}`,
		`{"eventName":1}`, `{"eventName":"a"`, `{"resources":[{"ARN":"x"},[]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := ParseRecord(data)
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return // not a JSON object: the scanner may accept some sloppy numbers, and that is fine
		}
		if err != nil {
			t.Fatalf("scanner refused a valid object %q: %v", data, err)
		}
		want, _ := obj["eventName"].(string)
		if got := validUTF8(rec.f.str(slotEventName)); got != want {
			t.Fatalf("eventName = %q, encoding/json says %q", got, want)
		}
	})
}
