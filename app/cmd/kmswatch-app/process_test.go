package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/app/internal/logtest"
)

// command runs this test binary as the real program (see TestMain); the
// process is killed if the test ends first.
func command(t *testing.T, env map[string]string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), "KMSWATCH_APP_RUN_MAIN=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// TestSIGTERMDrainsAndExits runs the program as ECS does: it serves, gets
// SIGTERM, shuts down cleanly and exits 0, and its last metrics line holds
// the requests served since the last full minute: none is lost.
func TestSIGTERMDrainsAndExits(t *testing.T) {
	s := newStack(t)
	s.env["PORT"] = "0"
	cmd := command(t, s.env)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var out logtest.Buffer
	lines := bufio.NewScanner(stdout)
	var addr string
	for addr == "" && lines.Scan() {
		_, _ = out.Write(append(lines.Bytes(), '\n')) // a Buffer never fails
		var line struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &line) == nil && line.Msg == "listening" {
			addr = line.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no listening line; stderr %q", stderr.String())
	}
	base := "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1)
	if status, got := call(t, httpClient, "POST", base+"/encrypt", `{"Name":"erin","Text":"t"}`); status != 200 {
		t.Fatalf("encrypt = %d %v", status, got)
	}
	for range 2 {
		if status, got := call(t, httpClient, "GET", base+"/decrypt", jsonBody("Name", "erin", "Key", s.key.ID)); status != 200 {
			t.Fatalf("decrypt = %d %v", status, got)
		}
	}
	if status, _ := call(t, httpClient, "GET", base+"/decrypt", jsonBody("Name", "nobody", "Key", s.key.ID)); status != 404 {
		t.Fatalf("decrypt of an unknown name = %d, want 404", status)
	}
	closeClientConnections()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
		_, _ = out.Write(append(lines.Bytes(), '\n')) // a Buffer never fails
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr %q", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
	if !strings.Contains(rest.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged: %s", rest.String())
	}
	sums := metricSums(t, &out)
	if sums["EncryptsStored"] != 1 || sums["DecryptsServed"] != 2 || sums["DecryptsFailed_unknown_name"] != 1 {
		t.Errorf("metrics lines sum to %v; want 1 encrypt, 2 decrypts served, 1 unknown name", sums)
	}
	if n := len(out.Events(t, "decrypt_served")); n != 2 {
		t.Errorf("%d decrypt_served lines, want 2", n)
	}
}

func TestConfigErrorExitsNonZero(t *testing.T) {
	env := validEnv()
	delete(env, "KMS_KEY_ID")
	cmd := command(t, env)
	cmd.Env = append(cmd.Env, "KMS_KEY_ID=") // shadow a value the caller may have exported
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Fatalf("err = %v, want exit code 2; output %q", err, out)
	}
	want := "kmswatch-app: configuration: KMS_KEY_ID: required, set but empty\n"
	if string(out) != want {
		t.Fatalf("output = %q, want %q", out, want)
	}
}
