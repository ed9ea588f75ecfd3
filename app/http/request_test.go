package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/inmem"
	"github.com/kmswatch/kmswatch/app/postgres"
	"github.com/kmswatch/kmswatch/app/postgres/postgrestest"
)

type badInput struct {
	name        string
	path        string // "/encrypt" or "/decrypt"
	contentType string // "" sends none
	body        io.Reader
	wantStatus  int
	wantMsg     string
}

// BadInputs lists user mistakes; each must be a 4xx naming the problem and store nothing.
func badInputs() []badInput {
	const ct = "application/json"
	enc := func(name, body string, status int, msg string) badInput {
		return badInput{name, "/encrypt", ct, strings.NewReader(body), status, msg}
	}
	dec := func(name, body string, status int, msg string) badInput {
		return badInput{name, "/decrypt", ct, strings.NewReader(body), status, msg}
	}
	long := func(n int, s string) string { return strings.Repeat(s, n) }
	return []badInput{
		enc("invalid JSON", `{"Name":"a","Text":`, 400, "Invalid JSON"),
		enc("invalid JSON syntax", `{"Name" "a"}`, 400, "Invalid JSON at byte"),
		enc("empty body", ``, 400, "Request body is empty"),
		enc("JSON array", `["a","b"]`, 400, "must be a JSON object"),
		enc("JSON string", `"a"`, 400, "must be a JSON object"),
		enc("missing Name", `{"Text":"t"}`, 400, "Name is required"),
		enc("empty Name", `{"Name":"","Text":"t"}`, 400, "Name is required"),
		enc("missing Text", `{"Name":"a"}`, 400, "Text is required"),
		enc("empty Text", `{"Name":"a","Text":""}`, 400, "Text is required"),
		enc("Name is a number", `{"Name":42,"Text":"t"}`, 400, "Name must be a string, not a number"),
		enc("Name is a boolean", `{"Name":true,"Text":"t"}`, 400, "Name must be a string, not a boolean"),
		enc("Text is null", `{"Name":"a","Text":null}`, 400, "Text must be a string, not null"),
		enc("Text is an object", `{"Name":"a","Text":{"x":1}}`, 400, "Text must be a string, not an object"),
		enc("Text is an array", `{"Name":"a","Text":["x"]}`, 400, "Text must be a string, not an array"),
		enc("unknown field", `{"Name":"a","Text":"t","Admin":true}`, 400, `Unknown field "Admin"`),
		enc("field name in the wrong case", `{"name":"a","Text":"t"}`, 400, `Unknown field "name"`),
		enc("duplicate field", `{"Name":"a","Text":"t","Name":"b"}`, 400, `Duplicate field "Name"`),
		enc("Name over 255 characters", `{"Name":"`+long(256, "n")+`","Text":"t"}`, 400, "Name must be at most 255 characters"),
		enc("Name with a control character", `{"Name":"a\u0000b","Text":"t"}`, 400, "Name must not contain control characters"),
		enc("Text over 4096 bytes", `{"Name":"a","Text":"`+long(4097, "t")+`"}`, 400, "Text must be at most 4096 bytes"),
		enc("Text over 4096 bytes in two-byte characters", `{"Name":"a","Text":"`+long(2049, "é")+`"}`, 400, "Text must be at most 4096 bytes"),
		enc("non-UTF-8 bytes in Text", "{\"Name\":\"a\",\"Text\":\"caf\xe9\"}", 400, "valid UTF-8"),
		enc("lone surrogate escape in Text", `{"Name":"a","Text":"x\ud800y"}`, 400, "valid UTF-8"),
		enc("lone low surrogate escape in Name", `{"Name":"\udc00","Text":"t"}`, 400, "valid UTF-8"),
		enc("trailing JSON object", `{"Name":"a","Text":"t"}{"Name":"b","Text":"u"}`, 400, "Unexpected data after the JSON object"),
		enc("trailing garbage", `{"Name":"a","Text":"t"} x`, 400, "Unexpected data after the JSON object"),
		enc("body over 64 KiB", `{"Name":"a","Text":"`+long(70000, "t")+`"}`, 413, "at most 65536 bytes"),
		{"body over 64 KiB without Content-Length", "/encrypt", ct,
			io.MultiReader(strings.NewReader(`{"Name":"a","Text":"`), strings.NewReader(long(70000, "t")), strings.NewReader(`"}`)),
			413, "at most 65536 bytes"},
		{"text/plain content type", "/encrypt", "text/plain", strings.NewReader(`{"Name":"a","Text":"t"}`), 415, "Content-Type must be application/json"},
		{"form content type (curl --data without a header)", "/encrypt", "application/x-www-form-urlencoded", strings.NewReader(`{"Name":"a","Text":"t"}`), 415, "Content-Type must be application/json"},
		{"missing content type", "/encrypt", "", strings.NewReader(`{"Name":"a","Text":"t"}`), 415, "Content-Type must be application/json"},
		{"non-UTF-8 charset", "/encrypt", "application/json; charset=latin1", strings.NewReader(`{"Name":"a","Text":"t"}`), 415, "charset must be utf-8"},
		dec("decrypt missing Key", `{"Name":"a"}`, 400, "Key is required"),
		dec("decrypt empty Key", `{"Name":"a","Key":""}`, 400, "Key is required"),
		dec("decrypt Key over 2048 characters", `{"Name":"a","Key":"`+long(2049, "k")+`"}`, 400, "Key must be at most 2048 characters"),
		dec("decrypt Key is a number", `{"Name":"a","Key":7}`, 400, "Key must be a string, not a number"),
		dec("decrypt missing Name", `{"Key":"k"}`, 400, "Name is required"),
		dec("decrypt Text instead of Key", `{"Name":"a","Text":"t"}`, 400, `Unknown field "Text"`),
		dec("decrypt trailing data", `{"Name":"a","Key":"k"} {}`, 400, "Unexpected data after the JSON object"),
		{"decrypt missing content type", "/decrypt", "", strings.NewReader(`{"Name":"a","Key":"k"}`), 415, "Content-Type must be application/json"},
	}
}

// TestBadInputs runs every bad input against the in-memory store and the
// real PostgreSQL one: a 4xx naming the problem, no KMS call, no row.
func TestBadInputs(t *testing.T) {
	stores := map[string]func(t *testing.T) app.Store{
		"inmem":    func(*testing.T) app.Store { return inmem.NewStore() },
		"postgres": func(t *testing.T) app.Store { return postgrestest.Open(t, postgres.Options{}) },
	}
	for storeName, newStore := range stores {
		t.Run(storeName, func(t *testing.T) {
			store := newStore(t)
			for _, tt := range badInputs() {
				t.Run(tt.name, func(t *testing.T) {
					h := newHarness(t, store)
					method := "POST"
					if tt.path == "/decrypt" {
						method = "GET"
					}
					rec := h.do(method, tt.path, tt.contentType, tt.body)
					if rec.Code != tt.wantStatus {
						t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
					}
					if msg := decodeBody(t, rec)["Message"]; !strings.Contains(msg, tt.wantMsg) {
						t.Fatalf("Message = %q, want it to contain %q", msg, tt.wantMsg)
					}
					if n := storedCount(t, store); n != 0 {
						t.Fatalf("%d records stored for a bad request", n)
					}
					if enc, dec := h.crypto.calls(); enc+dec != 0 {
						t.Fatalf("KMS called (%d encrypts, %d decrypts) for a bad request", enc, dec)
					}
					if tt.path == "/decrypt" {
						ev := h.logs.Events(t, "decrypt_failed")
						if len(ev) != 1 || ev[0]["reason"] != "invalid_request" {
							t.Fatalf("decrypt_failed events = %v, want one with reason invalid_request", ev)
						}
					}
				})
			}
		})
	}
}

func storedCount(t *testing.T, store app.Store) int {
	t.Helper()
	switch s := store.(type) {
	case *inmem.Store:
		return s.Len()
	case *postgres.DB:
		n, err := s.CountSecrets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Fatalf("cannot count records in %T", store)
	return 0
}

func TestAcceptedRequestVariants(t *testing.T) {
	tests := []struct{ name, contentType, body string }{
		{"charset parameter", "application/json; charset=UTF-8", `{"Name":"a","Text":"t"}`},
		{"surrounding whitespace and trailing newline", "application/json", " \n{ \"Text\" : \"t\", \"Name\" : \"a\" }\n"},
		{"escaped surrogate pair", "application/json", `{"Name":"a","Text":"\ud83d\ude00"}`},
		{"escaped backslash before u", "application/json", `{"Name":"a","Text":"\\ud800"}`},
		{"Text of exactly 4096 bytes", "application/json", `{"Name":"a","Text":"` + strings.Repeat("t", 4096) + `"}`},
		{"Name of 255 multibyte characters", "application/json", `{"Name":"` + strings.Repeat("ü", 255) + `","Text":"t"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if rec := h.do("POST", "/encrypt", tt.contentType, strings.NewReader(tt.body)); rec.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			var want struct{ Name, Text string }
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatal(err)
			}
			rec := h.doJSON("POST", "/decrypt", `{"Name":`+jsonString(want.Name)+`,"Key":`+jsonString(testKeyID)+`}`)
			if got := decodeBody(t, rec)["Text"]; got != want.Text {
				t.Fatalf("round trip Text = %q, want %q", got, want.Text)
			}
		})
	}
}

// FuzzDecodeRequest sends arbitrary bodies to both endpoints: no panic, only
// 2xx/4xx, and an accepted body round-trips to what encoding/json reads from it.
func FuzzDecodeRequest(f *testing.F) {
	for _, tt := range badInputs() {
		if b, err := io.ReadAll(tt.body); err == nil && len(b) < 5000 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Name":"a","Text":"t"}`))
	f.Add([]byte(`{"Name":"a","Key":"k"}`))
	f.Add([]byte(`{"Name":"\ud83d\ude00","Text":"\\\"\u00e9"}`))
	h := newHarness(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := h.do("POST", "/encrypt", "application/json", bytes.NewReader(body))
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("encrypt status %d for body %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code == http.StatusOK {
			var want struct{ Name, Text string }
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("accepted a body encoding/json rejects: %q: %v", body, err)
			}
			dec := h.doJSON("POST", "/decrypt", `{"Name":`+jsonString(want.Name)+`,"Key":`+jsonString(testKeyID)+`}`)
			if got := decodeBody(t, dec)["Text"]; got != want.Text || !utf8.ValidString(got) {
				t.Fatalf("body %q: decrypted %q, want %q", body, got, want.Text)
			}
		} else if msg := decodeBody(t, rec)["Message"]; msg == "" {
			t.Fatalf("no Message for status %d", rec.Code)
		}
		rec = h.do("GET", "/decrypt", "application/json", bytes.NewReader(body))
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("decrypt status %d for body %q: %s", rec.Code, body, rec.Body)
		}
	})
}
