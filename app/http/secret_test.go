package http_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/app"
	apphttp "github.com/kmswatch/kmswatch/app/http"
)

func TestEncryptDecrypt_RoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	rec := h.doJSON("POST", "/encrypt", `{"Name":"alice","Text":"my secret"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("encrypt status = %d, body %s", rec.Code, rec.Body)
	}
	got := decodeBody(t, rec)
	if got["Message"] != apphttp.EncryptedMessage || got["Key"] != testKeyID {
		t.Fatalf("encrypt answer = %v", got)
	}
	for _, method := range []string{"GET", "POST"} {
		rec = h.doJSON(method, "/decrypt", `{"Name":"alice","Key":`+jsonString(testKeyID)+`}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s /decrypt status = %d, body %s", method, rec.Code, rec.Body)
		}
		if text := decodeBody(t, rec)["Text"]; text != "my secret" {
			t.Fatalf("%s /decrypt Text = %q", method, text)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("decrypt answer may be cached: no Cache-Control: no-store")
	}
	if n := len(h.logs.Events(t, "decrypt_failed")); n != 0 {
		t.Errorf("%d decrypt_failed events for successful decrypts", n)
	}
}

func TestEncrypt_ReplacesEarlierRecord(t *testing.T) {
	h := newHarness(t, nil)
	for _, text := range []string{"first", "second"} {
		if rec := h.doJSON("POST", "/encrypt", `{"Name":"bob","Text":"`+text+`"}`); rec.Code != http.StatusOK {
			t.Fatalf("encrypt %q: %d %s", text, rec.Code, rec.Body)
		}
	}
	rec := h.doJSON("POST", "/decrypt", `{"Name":"bob","Key":`+jsonString(testKeyID)+`}`)
	if text := decodeBody(t, rec)["Text"]; text != "second" {
		t.Fatalf("Text = %q, want the replacement", text)
	}
}

func TestDecrypt_Failures(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMsg    string
		wantReason string
		wantKMSErr string
	}{
		{"wrong but plausible key goes to KMS and is refused",
			`{"Name":"carol","Key":"arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"}`,
			http.StatusForbidden, app.KeyRefusedMessage, "kms_refused", "IncorrectKeyException"},
		{"garbage key goes to KMS and is refused", `{"Name":"carol","Key":"not-a-key"}`,
			http.StatusForbidden, app.KeyRefusedMessage, "kms_refused", "IncorrectKeyException"},
		{"unknown name", `{"Name":"nobody","Key":"k"}`,
			http.StatusNotFound, "No data stored under this Name", "unknown_name", ""},
		{"sql injection as a name is just an unknown name", `{"Name":"' OR 1=1 --","Key":"k"}`,
			http.StatusNotFound, "No data stored under this Name", "unknown_name", ""},
		{"bad input", `{"Name":"carol"}`,
			http.StatusBadRequest, "Key is required", "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if rec := h.doJSON("POST", "/encrypt", `{"Name":"carol","Text":"plain words"}`); rec.Code != http.StatusOK {
				t.Fatalf("encrypt: %d %s", rec.Code, rec.Body)
			}
			rec := h.doJSON("GET", "/decrypt", tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if msg := decodeBody(t, rec)["Message"]; !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("Message = %q, want %q", msg, tt.wantMsg)
			}
			events := h.logs.Events(t, "decrypt_failed")
			if len(events) != 1 {
				t.Fatalf("%d decrypt_failed events, want exactly 1; logs:\n%s", len(events), h.logs)
			}
			ev := events[0]
			if ev["reason"] != tt.wantReason || ev["level"] != "WARN" || ev["msg"] != "decrypt failed" {
				t.Errorf("event = %v, want reason %q at WARN", ev, tt.wantReason)
			}
			if tt.wantKMSErr != "" && ev["kms_error"] != tt.wantKMSErr {
				t.Errorf("kms_error = %v, want %q", ev["kms_error"], tt.wantKMSErr)
			}
			if _, decrypts := h.crypto.calls(); tt.wantReason == "kms_refused" && decrypts != 1 {
				t.Errorf("KMS Decrypt calls = %d, want 1 (a wrong key must reach KMS)", decrypts)
			}
			assertNoSecretsInLogs(t, h.logs.String(), "plain words", "carol", "not-a-key", "00000000-0000")
		})
	}
}

func TestDependencyFailures(t *testing.T) {
	unavailable := &app.Error{Code: app.EUNAVAILABLE, Message: "Key service unavailable, try again later", Err: errors.New("dial tcp: connection refused")}
	tests := []struct {
		name       string
		cryptoErr  error
		wantStatus int
		wantMsg    string
	}{
		{"kms unavailable", unavailable, http.StatusServiceUnavailable, "Key service unavailable"},
		{"unexpected error is internal with a generic message", errors.New("secret internals"), http.StatusInternalServerError, "Internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.crypto.fail = tt.cryptoErr
			rec := h.doJSON("POST", "/encrypt", `{"Name":"dave","Text":"t"}`)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if msg := decodeBody(t, rec)["Message"]; !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "internals") {
				t.Fatalf("Message = %q", msg)
			}
			if _, err := h.store.FindSecret(context.Background(), "dave"); app.ErrorCode(err) != app.ENOTFOUND {
				t.Fatalf("a record was stored although encryption failed: %v", err)
			}
			if n := len(h.logs.Events(t, "encrypt_failed")); n != 1 {
				t.Errorf("%d encrypt_failed events, want 1", n)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/", "/healthz", "/readyz"} {
		if rec := h.doJSON("GET", path, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", path, rec.Code)
		}
	}
	h = newHarness(t, downStore{})
	if rec := h.doJSON("GET", "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the store down = %d, want 503", rec.Code)
	}
	if rec := h.doJSON("GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("GET /healthz with the store down = %d, want 200 (liveness only)", rec.Code)
	}
}

func TestRoutingErrorsAreJSON(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope", http.StatusNotFound},
		{"GET", "/encrypt", http.StatusMethodNotAllowed},
		{"DELETE", "/decrypt", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		rec := h.doJSON(tt.method, tt.path, "")
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
		if decodeBody(t, rec)["Message"] == "" {
			t.Errorf("%s %s: no Message", tt.method, tt.path)
		}
	}
}

// downStore is a Store whose database is unreachable.
type downStore struct{}

func (downStore) PutSecret(context.Context, *app.Secret) error { return errDown }
func (downStore) FindSecret(context.Context, string) (*app.Secret, error) {
	return nil, errDown
}
func (downStore) Ping(context.Context) error { return errDown }

var errDown = &app.Error{Code: app.EUNAVAILABLE, Message: "Database unavailable, try again later"}

func TestStoreUnavailable(t *testing.T) {
	h := newHarness(t, downStore{})
	rec := h.doJSON("POST", "/encrypt", `{"Name":"erin","Text":"t"}`)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("encrypt status = %d, want 503", rec.Code)
	}
	rec = h.doJSON("POST", "/decrypt", `{"Name":"erin","Key":"k"}`)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("decrypt status = %d, want 503", rec.Code)
	}
	ev := h.logs.Events(t, "decrypt_failed")
	if len(ev) != 1 || ev[0]["reason"] != "store_unavailable" || ev[0]["level"] != "ERROR" {
		t.Fatalf("events = %v", ev)
	}
}

func assertNoSecretsInLogs(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q:\n%s", s, logs)
		}
	}
}

// TestClientCanceled: a caller that hangs up is neither a refusal nor a server error.
func TestClientCanceled(t *testing.T) {
	h := newHarness(t, nil)
	if rec := h.doJSON("POST", "/encrypt", `{"Name":"frank","Text":"t"}`); rec.Code != http.StatusOK {
		t.Fatalf("encrypt: %d", rec.Code)
	}
	h.crypto.fail = &app.Error{Code: app.EUNAVAILABLE, Message: "Key service unavailable, try again later", Err: context.Canceled}
	for _, path := range []string{"/encrypt", "/decrypt"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		body := `{"Name":"frank","Text":"t"}`
		if path == "/decrypt" {
			body = `{"Name":"frank","Key":"k"}`
		}
		req := httptest.NewRequest("POST", path, strings.NewReader(body)).WithContext(ctx)
		req.Header.Set("Content-Type", "application/json")
		h.handler.ServeHTTP(httptest.NewRecorder(), req)
	}
	ev := h.logs.Events(t, "decrypt_failed")
	if len(ev) != 1 || ev[0]["reason"] != "client_canceled" || ev[0]["level"] != "INFO" {
		t.Fatalf("decrypt_failed events = %v, want one client_canceled at INFO", ev)
	}
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Fatalf("a canceled request was logged as an error:\n%s", h.logs)
	}
	if encrypts, served, failed := h.meter.counts(); encrypts != 1 || served != 0 || len(failed) != 1 || failed[app.ReasonClientCanceled] != 1 {
		t.Errorf("meter: %d encrypts, %d served, failures %v; want the first encrypt and one client_canceled", encrypts, served, failed)
	}
}
