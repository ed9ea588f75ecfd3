package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kmswatch/kmswatch/app"
	apphttp "github.com/kmswatch/kmswatch/app/http"
	"github.com/kmswatch/kmswatch/app/inmem"
	"github.com/kmswatch/kmswatch/app/internal/logtest"
)

const testKeyID = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// fakeCrypto stands in for KMS in handler tests: it binds the ciphertext to
// the name and refuses any key but its own, as KMS does.
type fakeCrypto struct {
	mu       sync.Mutex
	encrypts int
	decrypts int
	fail     error // returned by every call when set
}

func (f *fakeCrypto) Encrypt(_ context.Context, name string, plaintext []byte) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.encrypts++
	if f.fail != nil {
		return nil, "", f.fail
	}
	ct := append([]byte(name+"\x00"), plaintext...)
	for i := range ct {
		ct[i] ^= 0x5a
	}
	return ct, testKeyID, nil
}

// Decrypt answers with the request id fake-<n> for its n-th call.
func (f *fakeCrypto) Decrypt(_ context.Context, name, keyID string, ciphertext []byte) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decrypts++
	if f.fail != nil {
		return nil, "", f.fail
	}
	if keyID != testKeyID {
		return nil, "", &app.Error{Code: app.EKEYREFUSED, Message: app.KeyRefusedMessage, Detail: "IncorrectKeyException"}
	}
	pt := bytes.Clone(ciphertext)
	for i := range pt {
		pt[i] ^= 0x5a
	}
	boundName, text, ok := bytes.Cut(pt, []byte{0})
	if !ok || string(boundName) != name {
		return nil, "", &app.Error{Code: app.EKEYREFUSED, Message: app.KeyRefusedMessage, Detail: "InvalidCiphertextException"}
	}
	return text, "fake-" + strconv.Itoa(f.decrypts), nil
}

func (f *fakeCrypto) calls() (encrypts, decrypts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.encrypts, f.decrypts
}

// countingMeter is an app.Meter that remembers every count.
type countingMeter struct {
	mu       sync.Mutex
	encrypts int
	served   int
	failed   map[app.DecryptFailure]int
}

func (m *countingMeter) EncryptStored() { m.mu.Lock(); m.encrypts++; m.mu.Unlock() }
func (m *countingMeter) DecryptServed() { m.mu.Lock(); m.served++; m.mu.Unlock() }
func (m *countingMeter) DecryptFailed(r app.DecryptFailure) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed == nil {
		m.failed = map[app.DecryptFailure]int{}
	}
	m.failed[r]++
}

func (m *countingMeter) counts() (encrypts, served int, failed map[app.DecryptFailure]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	failed = map[app.DecryptFailure]int{}
	for r, n := range m.failed {
		failed[r] = n
	}
	return m.encrypts, m.served, failed
}

type harness struct {
	handler http.Handler
	store   app.Store
	crypto  *fakeCrypto
	meter   *countingMeter
	logs    *logtest.Buffer
}

func newHarness(t testing.TB, store app.Store) *harness {
	t.Helper()
	if store == nil {
		store = inmem.NewStore()
	}
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	crypto, meter := &fakeCrypto{}, &countingMeter{}
	srv := apphttp.NewServer(apphttp.Config{Meter: meter}, store, crypto, logger)
	return &harness{handler: srv.Handler(), store: store, crypto: crypto, meter: meter, logs: logs}
}

// do sends one request; contentType "" sends no Content-Type header.
func (h *harness) do(method, path, contentType string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

func (h *harness) doJSON(method, path, body string) *httptest.ResponseRecorder {
	return h.do(method, path, "application/json", strings.NewReader(body))
}

// decodeBody decodes a JSON answer into a map, failing on anything else.
func decodeBody(t testing.TB, rec *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; body %q", ct, rec.Body.String())
	}
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer is not a JSON object of strings: %q", rec.Body.String())
	}
	return m
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
