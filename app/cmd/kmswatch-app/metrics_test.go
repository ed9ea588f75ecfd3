package main

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/app/internal/logtest"
)

// metricSums adds up each metric over the service's EMF lines
// ("event":"metrics"); app/emf's tests check those lines against the EMF
// specification.
func metricSums(t *testing.T, logs *logtest.Buffer) map[string]float64 {
	t.Helper()
	sums := map[string]float64{}
	for _, line := range logs.Events(t, "metrics") {
		aws, _ := line["_aws"].(map[string]any)
		directives, _ := aws["CloudWatchMetrics"].([]any)
		if len(directives) != 1 {
			t.Fatalf("metrics line without its EMF directive: %v", line)
		}
		for _, def := range directives[0].(map[string]any)["Metrics"].([]any) {
			name := def.(map[string]any)["Name"].(string)
			v, ok := line[name].(float64)
			if !ok {
				t.Fatalf("metric %s has no value on the line: %v", name, line)
			}
			sums[name] += v
		}
	}
	return sums
}

// TestDecryptServed_JoinsCloudTrail follows issue 11's join end to end: the
// real SDK against the KMS double, whose CloudTrail records carry the
// requestID KMS answered with. Every successful Decrypt in the trail has
// exactly one decrypt_served line with that request id, and no refused one
// has any.
func TestDecryptServed_JoinsCloudTrail(t *testing.T) {
	s := newStack(t)
	base := s.start(t)
	if status, got := call(t, httpClient, "POST", base+"/encrypt", `{"Name":"kim","Text":"the text"}`); status != 200 {
		t.Fatalf("encrypt = %d %v", status, got)
	}
	for range 3 {
		if status, got := call(t, httpClient, "GET", base+"/decrypt", jsonBody("Name", "kim", "Key", s.key.ARN)); status != 200 {
			t.Fatalf("decrypt = %d %v", status, got)
		}
	}
	wrong := s.double.CreateKey("alias/not-kims")
	if status, _ := call(t, httpClient, "GET", base+"/decrypt", jsonBody("Name", "kim", "Key", wrong.ARN)); status != 403 {
		t.Fatalf("decrypt with a wrong key = %d, want 403", status)
	}

	served := map[string]int{}
	for _, ev := range s.logs.Events(t, "decrypt_served") {
		id, _ := ev["kms_request_id"].(string)
		served[id]++
	}
	var succeeded, refused int
	for _, raw := range s.double.Records() {
		var rec struct{ EventName, ErrorCode, RequestID string }
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.EventName != "Decrypt" {
			continue
		}
		switch {
		case rec.ErrorCode == "" && served[rec.RequestID] == 1:
			succeeded++
		case rec.ErrorCode != "" && served[rec.RequestID] == 0:
			refused++
		default:
			t.Errorf("CloudTrail Decrypt %s (error %q) has %d decrypt_served lines", rec.RequestID, rec.ErrorCode, served[rec.RequestID])
		}
	}
	if succeeded != 3 || refused != 1 || len(served) != 3 {
		t.Fatalf("trail: %d joined successes, %d refusals; %d distinct served ids; want 3, 1, 3", succeeded, refused, len(served))
	}
	if strings.Contains(s.logs.String(), "the text") {
		t.Fatal("the plaintext is in the log")
	}
}

// TestBindAddress: BIND_ADDRESS=127.0.0.1 listens on loopback only (make
// local); unset, the service listens on every interface, as the container
// behind the load balancer must.
func TestBindAddress(t *testing.T) {
	for _, tt := range []struct{ bind, wantHost string }{{"127.0.0.1", "127.0.0.1"}, {"", "::"}} {
		s := newStack(t)
		if tt.bind != "" {
			s.env["BIND_ADDRESS"] = tt.bind
		}
		cfg, err := LoadConfig(s.env)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Open(t.Context(), cfg, discardLogger(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		host, _, err := net.SplitHostPort(m.Addr())
		m.ln.Close()
		m.db.Close()
		if err != nil || host != tt.wantHost {
			t.Errorf("BIND_ADDRESS %q: listening on %s, want host %s", tt.bind, m.Addr(), tt.wantHost)
		}
	}
}
