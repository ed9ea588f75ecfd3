package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// These tests run infra/scripts with bash against stand-ins: an HTTP server shaped like the app,
// and stub pulumi/docker/aws commands that record how they were called.

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to test the scripts: %v", tool, err)
		}
	}
}

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

func runScript(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("bash %v: %v", args, err)
	}
	return string(out), 0
}

func TestSmokeScriptPassesWhenWrongKeysAreRefusedByKMS(t *testing.T) {
	requireTools(t, "bash", "curl", "sed")
	app := fakeApp(t, http.StatusForbidden)
	out, code := runScript(t, []string{"URL=" + app.URL + "/", "WRONG_ATTEMPTS=3"}, "scripts/smoke.sh")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"POST /encrypt -> 200", "right key -> 200, text matches", "(3/3) -> 403, refused by KMS", "kmswatch replay"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A 400 means the app rejected the request itself: KMS never saw it, so no alarm can follow.
func TestSmokeScriptFailsWhenTheWrongKeyNeverReachesKMS(t *testing.T) {
	requireTools(t, "bash", "curl", "sed")
	app := fakeApp(t, http.StatusBadRequest)
	out, code := runScript(t, []string{"URL=" + app.URL}, "scripts/smoke.sh")
	if code != 1 || !strings.Contains(out, "answered 400, want 403") {
		t.Errorf("exit %d, want 1 naming the 400:\n%s", code, out)
	}
}

// stubTools puts pulumi, docker and aws stand-ins first on PATH; each appends its arguments to log.
// pulumi says it is logged out and answers `config get alertEmail` with email.
func stubTools(t *testing.T, email string) (env []string, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	stubs := map[string]string{
		"pulumi": `echo "pulumi $*" >> "$STUB_LOG"
case "$1 $2" in
  "whoami "*) exit 1 ;;
  "config get") [ -n "$STUB_EMAIL" ] && echo "$STUB_EMAIL" || exit 1 ;;
esac`,
		"docker": `echo "docker $*" >> "$STUB_LOG"`,
		"aws":    `echo "aws $*" >> "$STUB_LOG"`,
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/usr/bin/env bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"STUB_LOG=" + log, "STUB_EMAIL=" + email,
		"PULUMI_STATE_DIR=" + filepath.Join(dir, "state"),
	}, log
}

func readCalls(t *testing.T, log string) []string {
	t.Helper()
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

func TestPulumiScriptUpLogsInLocallyAndDeploysWithoutAPrompt(t *testing.T) {
	requireTools(t, "bash", "go")
	env, log := stubTools(t, "oncall@corp.example.org")
	out, code := runScript(t, env, "scripts/pulumi.sh", "up")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	calls := strings.Join(readCalls(t, log), "\n")
	var state string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PULUMI_STATE_DIR="); ok {
			state = v
		}
	}
	order := []string{
		"docker info",
		"aws sts get-caller-identity",
		"pulumi login --non-interactive file://" + state,
		"pulumi stack select --create dev",
		"pulumi up --stack dev --yes",
		"pulumi stack output --stack dev",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(calls[at:], want)
		if i < 0 {
			t.Fatalf("calls lack %q after position %d:\n%s", want, at, calls)
		}
		at += i + len(want)
	}
	if !strings.Contains(out, "empty passphrase") || !strings.Contains(out, "confirm the subscription mailed to oncall@corp.example.org") {
		t.Errorf("output lacks the passphrase note or the subscription reminder:\n%s", out)
	}
}

func TestPulumiScriptRefusesToSendAlertsToThePlaceholderAddress(t *testing.T) {
	requireTools(t, "bash", "go")
	env, log := stubTools(t, "secops@example.com")
	out, code := runScript(t, env, "scripts/pulumi.sh", "up")
	if code != 1 || !strings.Contains(out, "pulumi config set alertEmail") {
		t.Errorf("exit %d, want 1 with how to set alertEmail:\n%s", code, out)
	}
	for _, call := range readCalls(t, log) {
		if strings.HasPrefix(call, "pulumi up") {
			t.Errorf("deployed anyway: %s", call)
		}
	}
}

func TestPulumiScriptPreviewDoesNotNeedDockerOrAnAddress(t *testing.T) {
	requireTools(t, "bash", "go")
	env, log := stubTools(t, "")
	out, code := runScript(t, env, "scripts/pulumi.sh", "preview", "--diff")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	calls := readCalls(t, log)
	if last := calls[len(calls)-1]; last != "pulumi preview --stack dev --diff" {
		t.Errorf("last call %q, want the preview with the extra argument", last)
	}
	for _, call := range calls {
		if strings.HasPrefix(call, "docker") {
			t.Errorf("preview checked docker: %s", call)
		}
	}
}

func TestPulumiScriptRejectsUnknownCommands(t *testing.T) {
	requireTools(t, "bash")
	out, code := runScript(t, nil, "scripts/pulumi.sh", "deploy")
	if code != 2 || !strings.Contains(out, "unknown command 'deploy'") || !strings.Contains(out, "pulumi.sh up") {
		t.Errorf("exit %d, want 2 with usage:\n%s", code, out)
	}
}
