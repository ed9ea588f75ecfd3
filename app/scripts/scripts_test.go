// Package scripts_test runs local.sh and bench.sh with stand-ins for the
// tools whose behaviour differs between machines (tail, id, apt-get).
package scripts_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app/internal/logtest"
	"github.com/kmswatch/kmswatch/app/postgres/postgrestest"
)

// repoRoot is where the scripts expect to run from (they cd there themselves).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// toolDir writes each body as an executable bash script named for its tool.
func toolDir(t *testing.T, tools map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range tools {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withPath is the test's environment with PATH replaced.
func withPath(path string, extra ...string) []string {
	env := []string{"PATH=" + path}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func lookPath(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is needed to test the scripts and is not installed: %v", tool, err)
	}
	return p
}

// TestBench_WrkMissing: with no wrk on PATH, bench.sh stops and names the
// package, or, as root, says what it installs and why before apt-get runs.
func TestBench_WrkMissing(t *testing.T) {
	bash, dirname := lookPath(t, "bash"), lookPath(t, "dirname")
	tests := []struct {
		name, uid     string
		wantAptGet    bool
		wantInMessage []string
	}{
		{"not root: stops and names the package", "1000", false,
			[]string{"wrk, the HTTP load generator", "package 'wrk'", "sudo apt-get install wrk", "brew install wrk"}},
		{"root: explains before installing", "0", true,
			[]string{"wrk, the HTTP load generator", "running as root, so installing the Debian package 'wrk'", "installing wrk failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// PATH holds only these: no wrk, and an apt-get that fails after saying it ran.
			dir := toolDir(t, map[string]string{
				"id":      `[ "$1" = -u ] && echo ` + tt.uid,
				"apt-get": `echo "APT-GET RAN: $*" >&2; exit 100`,
				"dirname": `exec ` + dirname + ` "$@"`,
			})
			cmd := exec.CommandContext(t.Context(), bash, "app/scripts/bench.sh")
			cmd.Dir, cmd.Env = repoRoot(t), withPath(dir)
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
				t.Fatalf("err = %v, want exit status 1; output:\n%s", err, out)
			}
			for _, want := range tt.wantInMessage {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			ran := strings.Index(string(out), "APT-GET RAN")
			switch {
			case !tt.wantAptGet && ran >= 0:
				t.Errorf("apt-get ran without root:\n%s", out)
			case tt.wantAptGet && (ran < 0 || ran < strings.Index(string(out), "running as root")):
				t.Errorf("apt-get did not run, or ran before the explanation:\n%s", out)
			}
		})
	}
}

// bsdTail rejects long options, as macOS's tail does ("tail --pid" is GNU only).
const bsdTail = `for a in "$@"; do case $a in --*) echo "tail: illegal option -- ${a#-}" >&2; exit 1 ;; esac; done
exec %s "$@"`

// TestLocal_FollowsTheLogWithoutGNUTail runs local.sh as a user would, with a
// tail that has no --pid: the app's log must still reach the terminal, and
// when the app exits the script ends and leaves no follower behind.
func TestLocal_FollowsTheLogWithoutGNUTail(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	run := startLocal(t, map[string]string{"tail": strings.Replace(bsdTail, "%s", lookPath(t, "tail"), 1)})
	cmd, out, closed, port := run.cmd, run.out, run.closed, run.port

	appPID := waitFor(t, out, regexp.MustCompile(`running at .* \(pid (\d+),`), 3*time.Minute) // includes building
	waitFor(t, out, regexp.MustCompile(`"msg":"listening"`), 10*time.Second)                   // the log, through tail

	pid, _ := strconv.Atoi(appPID)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil { // the app ends on its own, as after a crash
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("local.sh after the app stopped cleanly: %v; output:\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("local.sh still running 30s after the app exited; output:\n%s", out)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("the log follower outlived local.sh; output:\n%s", out)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		conn.Close()
		t.Error("something still listens on the app's port")
	}
}

// localRun is local.sh running in its own process group.
type localRun struct {
	cmd        *exec.Cmd
	out        *logtest.Buffer
	closed     chan struct{} // every writer (script, tail) is gone
	port       string        // the app's
	trail      string        // the trail file
	doubleAddr string
}

// startLocal starts local.sh with tools (name -> bash body) ahead of PATH.
func startLocal(t *testing.T, tools map[string]string) *localRun {
	t.Helper()
	bash := lookPath(t, "bash")
	lookPath(t, "curl") // start_app polls /readyz with it
	dbURL := schemaURL(t)
	dir := toolDir(t, tools)
	run := &localRun{out: &logtest.Buffer{}, closed: make(chan struct{}), port: freePort(t),
		trail: filepath.Join(t.TempDir(), "trail.jsonl"), doubleAddr: "127.0.0.1:" + freePort(t)}
	cmd := exec.Command(bash, "app/scripts/local.sh") // not CommandContext: the cleanup below stops the whole process group
	cmd.Dir = repoRoot(t)
	cmd.Env = withPath(dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PORT="+run.port, "DOUBLE_ADDR="+run.doubleAddr, "TRAIL_FILE="+run.trail, "DATABASE_URL="+dbURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // one group: the script, the app, the double, tail
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }) // whatever is left if the test failed
	go func() {
		defer close(run.closed)
		_, _ = io.Copy(run.out, r)
	}()
	run.cmd = cmd
	return run
}

// waitFor polls out until re matches and returns its first group, if any.
func waitFor(t *testing.T, out *logtest.Buffer, re *regexp.Regexp, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q within %v; output:\n%s", re, limit, out)
	return ""
}

// schemaURL is the test database with search_path set to a fresh schema.
func schemaURL(t *testing.T) string {
	t.Helper()
	url := postgrestest.URL(t)
	schema := postgrestest.NewSchema(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
