package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeApp answers like kmswatch-app: the key from /encrypt decrypts; any other key gets wrongKeyStatus.
func fakeApp(t *testing.T, wrongKeyStatus int) *httptest.Server {
	t.Helper()
	const key = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
	var mu sync.Mutex
	texts := map[string]string{}
	write := func(w http.ResponseWriter, status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { write(w, 200, map[string]string{"Status": "ok"}) })
	mux.HandleFunc("POST /encrypt", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Name, Text string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
			write(w, 400, map[string]string{"Message": "bad request"})
			return
		}
		mu.Lock()
		texts[req.Name] = req.Text
		mu.Unlock()
		write(w, 200, map[string]string{"Message": "Data encrypted and stored, keep your key safe", "Key": key})
	})
	mux.HandleFunc("/decrypt", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Name, Key string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			write(w, 400, map[string]string{"Message": "bad request"})
			return
		}
		if req.Key != key {
			write(w, wrongKeyStatus, map[string]string{"Message": "refused"})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		write(w, 200, map[string]string{"Text": texts[req.Name]})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSmokeScriptPassesWhenWrongKeysAreRefusedByKMS(t *testing.T) {
	requireTools(t, "curl")
	r := newScriptRig(t)
	app := fakeApp(t, http.StatusForbidden)
	out, code := r.run(t, []string{"URL=" + app.URL + "/", "WRONG_ATTEMPTS=3"}, "smoke.sh")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	wantOutput(t, out, "POST /encrypt -> 200", "right key -> 200, text matches", "(3/3) -> 403, refused by KMS", "kmswatch replay")
	r.neverCalled(t, "pulumi", "aws")
}

// A 400 means the app rejected the request itself: KMS never saw it, so no alarm can follow.
func TestSmokeScriptFailsWhenTheWrongKeyNeverReachesKMS(t *testing.T) {
	requireTools(t, "curl")
	r := newScriptRig(t)
	app := fakeApp(t, http.StatusBadRequest)
	out, code := r.run(t, []string{"URL=" + app.URL}, "smoke.sh")
	if code != 1 || !strings.Contains(out, "answered 400, want 403") {
		t.Errorf("exit %d, want 1 naming the 400:\n%s", code, out)
	}
}

// Against the deployed stack, smoke.sh reads the stack through pulumi.sh (same backend as make up)
// and names both alarms the refusals trip, with log searches that start when the run began.
func TestSmokeScriptOnTheStackNamesBothAlarmsAndATimedLogSearch(t *testing.T) {
	requireTools(t, "curl")
	r := newScriptRig(t)
	app := fakeApp(t, http.StatusForbidden)
	before := time.Now().Add(-time.Second).UnixMilli()
	out, code := r.run(t, []string{"STUB_URL=" + app.URL, "WRONG_ATTEMPTS=2"}, "smoke.sh")
	after := time.Now().UnixMilli()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	wantOutput(t, out, "Two alarms should go to ALARM", "kmswatch-dev-app-kms-errors kmswatch-dev-app-decrypt-denied \\",
		"--log-group-name /kmswatch-dev/cloudtrail", "--log-group-name /kmswatch-dev/app", "--put-key-policy")
	if strings.Contains(out, "app-decrypt-volume") {
		t.Errorf("names an alarm the smoke test does not trip:\n%s", out)
	}
	starts := regexp.MustCompile(`--start-time (\d+)`).FindAllStringSubmatch(out, -1)
	if len(starts) != 2 {
		t.Fatalf("want two --start-time searches, got %v:\n%s", starts, out)
	}
	for _, m := range starts {
		ms, _ := strconv.ParseInt(m[1], 10, 64)
		if ms < before || ms > after {
			t.Errorf("--start-time %d is not this run's start in ms since the epoch (%d..%d)", ms, before, after)
		}
	}
	if c, ok := r.called(t, "pulumi stack output url"); !ok || c.backend != "file://"+r.stateDir() {
		t.Errorf("the url was not read from the scripts' local state: %+v", c)
	}
}

func TestSmokeScriptPutKeyPolicyPutsTheSamePolicyBack(t *testing.T) {
	r := newScriptRig(t)
	const keyARN = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555"
	const policy = `{"Version":"2012-10-17","Statement":[{"Sid":"KeyAdministrationByTheAccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:DescribeKey","Resource":"*"}]}`
	stored := filepath.Join(r.stubs, "key-policy.json")
	mustWrite(t, stored, policy+"\n", 0o644) // the CLI's text output ends with a newline
	out, code := r.run(t, []string{"STUB_KEY_ARN=" + keyARN}, "smoke.sh", "--put-key-policy")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	r.inOrder(t,
		"pulumi stack output kmsKeyArn",
		"aws kms get-key-policy --region eu-west-1 --key-id "+keyARN+" --policy-name default --query Policy --output text",
		"aws kms put-key-policy --region eu-west-1 --key-id "+keyARN+" --policy-name default --policy file://",
		"aws kms get-key-policy --region eu-west-1 --key-id "+keyARN)
	if raw, _ := os.ReadFile(stored); string(raw) != policy {
		t.Errorf("put policy %q, want the policy read, byte for byte %q", raw, policy)
	}
	for _, c := range r.calls(t) {
		if strings.Contains(c.line, "bypass-policy-lockout-safety-check") {
			t.Errorf("bypassed the lockout check: %s", c.line)
		}
	}
	wantOutput(t, out, "read back unchanged", "kms-key-policy-change", "AttributeValue=PutKeyPolicy")
}

func TestSmokeScriptRejectsBadUsage(t *testing.T) {
	r := newScriptRig(t)
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{args: []string{"--put-key-polcy"}, want: "unknown argument '--put-key-polcy'"},
		{env: []string{"WRONG_ATTEMPTS=many"}, want: "WRONG_ATTEMPTS 'many': want a whole number"},
	} {
		out, code := r.run(t, append(tc.env, "URL=http://127.0.0.1:9"), "smoke.sh", tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v %v: exit %d, want 2 with %q:\n%s", tc.env, tc.args, code, tc.want, out)
		}
	}
	if calls := r.calls(t); len(calls) != 0 {
		t.Errorf("bad usage ran %v", calls)
	}
}
