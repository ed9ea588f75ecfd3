package kms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/app/kms"
)

// TestDecrypt_RefusalCodes: the Decrypt errors that mean "not this key" are
// the caller's refusal, whatever fault the SDK gives them.
func TestDecrypt_RefusalCodes(t *testing.T) {
	for _, code := range []string{
		"AccessDeniedException",    // key policy or IAM denies the key
		"KMSInvalidStateException", // key pending deletion or import
		"InvalidKeyUsageException", // a signing or asymmetric key
		"ValidationException",      // a key id that breaks KMS's length constraint
	} {
		t.Run(code, func(t *testing.T) {
			f := newFixture(t, true)
			f.double.InjectFault(awsdouble.Fault{Operation: "Decrypt", ErrorType: code, Times: 1})
			_, _, err := f.crypto.Decrypt(context.Background(), "alice", f.key.ARN, []byte("x"))
			if app.ErrorCode(err) != app.EKEYREFUSED || app.ErrorDetail(err) != code {
				t.Fatalf("err = %v, want EKEYREFUSED with detail %s", err, code)
			}
		})
	}
}

// TestDecrypt_UnknownErrorsAreNotRefusals: an error outside the refusal list
// says nothing about the caller's key, so it must not answer 403 "make sure
// you have the correct key" nor count as a refusal.
func TestDecrypt_UnknownErrorsAreNotRefusals(t *testing.T) {
	tests := []struct{ name, errType string }{
		{"the service's own credentials rejected", "UnrecognizedClientException"},
		{"the service's session expired", "ExpiredTokenException"},
		{"an error type KMS may add later", "SomeFutureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			f.double.InjectFault(awsdouble.Fault{Operation: "Decrypt", ErrorType: tt.errType, Times: 1})
			_, _, err := f.crypto.Decrypt(context.Background(), "alice", f.key.ARN, []byte("x"))
			if app.ErrorCode(err) != app.EUNAVAILABLE || app.ErrorDetail(err) != tt.errType {
				t.Fatalf("err = %v, want EUNAVAILABLE with detail %s", err, tt.errType)
			}
		})
	}
}

// TestDecrypt_ProxyAnswers: what a load balancer or proxy in front of KMS
// sends is not KMS's verdict on the key, even when its body looks like one.
func TestDecrypt_ProxyAnswers(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantDetail  string
	}{
		{"HTML 502 from a proxy", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", "HTTP 502"},
		{"empty 503", 503, "", "", "HTTP 503"},
		{"JSON 500 without an error type", 500, "application/json", `{"message":"Internal server error"}`, "HTTP 500"},
		{"HTML 403 from a firewall", 403, "text/html", "<html><body>Request blocked</body></html>", "HTTP 403"},
		{"a refusal code with a 5xx status", 503, "application/x-amz-json-1.1", `{"__type":"NotFoundException","message":"x"}`, "NotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(proxy.Close)
			crypto := kms.New(newClient(proxy.URL, true), "alias/any", 0)
			_, _, err := crypto.Decrypt(context.Background(), "alice", "alias/any", []byte("x"))
			if app.ErrorCode(err) != app.EUNAVAILABLE || app.ErrorDetail(err) != tt.wantDetail {
				t.Fatalf("err = %v, want EUNAVAILABLE with detail %q", err, tt.wantDetail)
			}
			if tt.status >= 500 && calls.Load() < 2 {
				t.Errorf("calls = %d: a 5xx answer was not retried", calls.Load())
			}
		})
	}
}
