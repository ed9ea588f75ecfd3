package http_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/app"
)

// TestDecryptServed_LogsKMSRequestID: each served decrypt writes one
// decrypt_served line with the request id KMS answered with and the name's
// hash, never the name, key or text; a failed decrypt writes none.
func TestDecryptServed_LogsKMSRequestID(t *testing.T) {
	h := newHarness(t, nil)
	if rec := h.doJSON("POST", "/encrypt", `{"Name":"grace","Text":"plain words"}`); rec.Code != http.StatusOK {
		t.Fatalf("encrypt: %d %s", rec.Code, rec.Body)
	}
	for range 2 {
		if rec := h.doJSON("GET", "/decrypt", `{"Name":"grace","Key":`+jsonString(testKeyID)+`}`); rec.Code != http.StatusOK {
			t.Fatalf("decrypt: %d %s", rec.Code, rec.Body)
		}
	}
	if rec := h.doJSON("GET", "/decrypt", `{"Name":"grace","Key":"wrong-key"}`); rec.Code != http.StatusForbidden {
		t.Fatalf("decrypt with a wrong key: %d %s", rec.Code, rec.Body)
	}
	sum := sha256.Sum256([]byte("grace"))
	wantHash := hex.EncodeToString(sum[:8])
	events := h.logs.Events(t, "decrypt_served")
	if len(events) != 2 {
		t.Fatalf("%d decrypt_served events, want 2 (none for the refusal); logs:\n%s", len(events), h.logs)
	}
	for i, ev := range events {
		want := map[string]any{
			"level": "INFO", "msg": "decrypt served", "event": "decrypt_served",
			"kms_request_id": []string{"fake-1", "fake-2"}[i], "name_sha256": wantHash, "client_ip": "192.0.2.1",
		}
		for k, v := range want {
			if ev[k] != v {
				t.Errorf("event %d: %s = %v, want %v", i, k, ev[k], v)
			}
		}
		if _, ok := ev["time"].(string); !ok || len(ev) != len(want)+1 {
			t.Errorf("event %d = %v: want exactly time and %v", i, ev, want)
		}
	}
	assertNoSecretsInLogs(t, h.logs.String(), "plain words", `"grace"`, "wrong-key", testKeyID)
}

// TestMeter_CountsEveryOutcome: the meter counts what the log lines record,
// one for one: each encrypt stored, each decrypt_served line, and each
// decrypt_failed line under its reason.
func TestMeter_CountsEveryOutcome(t *testing.T) {
	h := newHarness(t, nil)
	right := `{"Name":"heidi","Key":` + jsonString(testKeyID) + `}`
	requests := []struct{ method, path, body string }{
		{"POST", "/encrypt", `{"Name":"heidi","Text":"t"}`},
		{"POST", "/encrypt", `{"Name":"ivan","Text":"t"}`},
		{"POST", "/encrypt", `{"Name":"ivan"}`}, // invalid: not stored, not a decrypt
		{"GET", "/decrypt", right},
		{"POST", "/decrypt", right},
		{"GET", "/decrypt", right},
		{"GET", "/decrypt", `{"Name":"heidi","Key":"wrong"}`},
		{"GET", "/decrypt", `{"Name":"nobody","Key":"k"}`},
		{"GET", "/decrypt", `{"Name":"heidi"}`},
		{"GET", "/decrypt", `{"Name":"heidi","Key":"k","Extra":"x"}`},
		{"GET", "/healthz", ""},
	}
	for _, r := range requests {
		h.do(r.method, r.path, "application/json", strings.NewReader(r.body))
	}
	h.crypto.fail = &app.Error{Code: app.EUNAVAILABLE, Message: "Key service unavailable, try again later"}
	h.doJSON("GET", "/decrypt", right)

	encrypts, served, failed := h.meter.counts()
	if encrypts != 2 || served != 3 {
		t.Errorf("meter: %d encrypts stored, %d decrypts served; want 2 and 3", encrypts, served)
	}
	if n := len(h.logs.Events(t, "decrypt_served")); n != served {
		t.Errorf("%d decrypt_served lines, meter counted %d", n, served)
	}
	logged := map[app.DecryptFailure]int{}
	for _, ev := range h.logs.Events(t, "decrypt_failed") {
		logged[app.DecryptFailure(ev["reason"].(string))]++
	}
	want := map[app.DecryptFailure]int{app.ReasonKMSRefused: 1, app.ReasonUnknownName: 1, app.ReasonInvalidRequest: 2, app.ReasonKMSUnavailable: 1}
	for _, r := range app.DecryptFailures {
		if failed[r] != want[r] || logged[r] != want[r] {
			t.Errorf("%s: meter %d, log lines %d, want %d", r, failed[r], logged[r], want[r])
		}
	}
}

// TestMeter_CountsStoreDown covers a reason the test above cannot reach with
// a working store (TestClientCanceled covers client_canceled).
func TestMeter_CountsStoreDown(t *testing.T) {
	h := newHarness(t, downStore{})
	h.doJSON("POST", "/decrypt", `{"Name":"judy","Key":"k"}`)
	if _, _, failed := h.meter.counts(); failed[app.ReasonStoreUnavailable] != 1 || len(failed) != 1 {
		t.Errorf("store down: meter counted %v, want one store_unavailable", failed)
	}
}
