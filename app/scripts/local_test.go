package scripts_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLocal_ShowsTheLabsRefusals runs the README's walkthrough against make local: the app's key decrypts,
// the other key is IncorrectKeyException and the disabled key DisabledException in the trail, every call
// made as the double's task role session, which local.sh hands the app.
func TestLocal_ShowsTheLabsRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	run := startLocal(t, nil)
	waitFor(t, run.out, regexp.MustCompile(`running at`), 3*time.Minute) // includes building
	keys := map[string]string{}
	for _, name := range []string{"KMS key id", "another key", "a disabled key"} {
		keys[name] = waitFor(t, run.out, regexp.MustCompile(name+`: +(\S+)`), 5*time.Second)
	}
	// The app has no authentication: on a laptop it listens on loopback only.
	waitFor(t, run.out, regexp.MustCompile(`"msg":"listening","addr":"(127\.0\.0\.1):`+run.port+`"`), 5*time.Second)
	base := "http://127.0.0.1:" + run.port
	call := func(method, path, body string) int {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call("POST", "/encrypt", `{"Name":"Bob","Text":"Hello, KMS"}`); got != 200 {
		t.Fatalf("encrypt = %d", got)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{{keys["KMS key id"], 200}, {keys["another key"], 403}, {keys["a disabled key"], 403}} {
		if got := call("GET", "/decrypt", `{"Name":"Bob","Key":"`+tc.key+`"}`); got != tc.want {
			t.Errorf("decrypt with %s = %d, want %d", tc.key, got, tc.want)
		}
	}

	var codes []string
	deadline := time.Now().Add(5 * time.Second) // the double flushes the trail every 100 ms
	for time.Now().Before(deadline) {
		codes = codes[:0]
		data, _ := os.ReadFile(run.trail)
		lines := bufio.NewScanner(bytes.NewReader(data))
		for lines.Scan() {
			var rec struct {
				EventName, ErrorCode string
				UserIdentity         struct {
					SessionContext struct{ SessionIssuer struct{ ARN string } }
				}
			}
			if err := json.Unmarshal(lines.Bytes(), &rec); err != nil {
				t.Fatalf("trail line %q: %v", lines.Text(), err)
			}
			if issuer := rec.UserIdentity.SessionContext.SessionIssuer.ARN; issuer != "arn:aws:iam::111122223333:role/kmswatch-task" {
				t.Fatalf("%s by %q, want the task role", rec.EventName, issuer)
			}
			codes = append(codes, rec.EventName+"/"+rec.ErrorCode)
		}
		if len(codes) >= 4 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := []string{"Encrypt/", "Decrypt/", "Decrypt/IncorrectKeyException", "Decrypt/DisabledException"}
	if strings.Join(codes, " ") != strings.Join(want, " ") {
		t.Errorf("trail = %v, want %v", codes, want)
	}

	// The replay line local.sh prints runs as printed: the two refusals trip the lab's rule, and the
	// join finds the served line of the one Decrypt that succeeded, so nothing is unmatched.
	replay := waitFor(t, run.out, regexp.MustCompile(`(?m)^  (bin/kmswatch replay .+)$`), time.Second)
	cmd := exec.Command("sh", "-c", replay)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("%s: %v, want exit 1 (findings)\n%s", replay, err, out)
	}
	for _, want := range []string{
		"app-kms-errors [high] fires >= 2 per 1m in 1 of 21 periods: 2 records matched, 1 period breaches",
		"app-decrypt-unmatched [critical] fires at once, per event: 0 records matched, fired 0 times",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: output lacks %q:\n%s", replay, want, out)
		}
	}
}
