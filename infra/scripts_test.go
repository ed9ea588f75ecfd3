package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests run infra/scripts with bash from a copy of the repository's deploy files (a throwaway
// clone), with stand-ins for pulumi, docker, aws and go that record every call. CI has no Pulumi
// CLI; the command lines the stubs accept were checked by hand against pulumi v3.200.0.

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to test the scripts: %v", tool, err)
		}
	}
}

// stubPulumi logs "pulumi <args> | backend=<PULUMI_BACKEND_URL> passphrase=<set|unset>" and answers
// like the real CLI for what the scripts ask. STUB_* variables shape its answers.
const stubPulumi = `#!/usr/bin/env bash
echo "pulumi $* | backend=${PULUMI_BACKEND_URL-unset} passphrase=${PULUMI_CONFIG_PASSPHRASE+set}" >> "$STUB_LOG"
case "$1 $2" in
  "stack select")
    if [ -n "${STUB_NO_STACK:-}" ] && [[ " $* " != *" --create "* ]]; then echo "error: no stack named 'dev' found" >&2; exit 255; fi ;;
  "stack output")
    name="${3:-}"; [[ "$name" != --* ]] || name=""
    case "$name" in
      "") echo "Current stack outputs (0):" ;;
      taskRoleArn) [ -n "${STUB_TASK_ROLE:-}" ] && echo "$STUB_TASK_ROLE" || exit 255 ;;
      url) [ -n "${STUB_URL:-}" ] && echo "$STUB_URL" || exit 255 ;;
      kmsKeyArn) [ -n "${STUB_KEY_ARN:-}" ] && echo "$STUB_KEY_ARN" || exit 255 ;;
      alarmNames) echo '["kmswatch-dev-app-kms-errors","kmswatch-dev-kms-key-disable-or-delete","kmswatch-dev-app-decrypt-volume","kmswatch-dev-app-decrypt-denied"]' ;;
      trailLogGroup) echo "/kmswatch-dev/cloudtrail" ;;
      appLogGroup) echo "/kmswatch-dev/app" ;;
      *) exit 255 ;;
    esac ;;
  "config get")
    case "$3" in
      alertEmail) [ -n "${STUB_EMAIL:-}" ] && echo "$STUB_EMAIL" || exit 255 ;;
      allowedCidrs) echo "${STUB_CIDRS:-[\"0.0.0.0/0\"]}" ;;
      *) exit 255 ;;
    esac ;;
  "stack ls")
    # What a file backend holds, as pulumi stack ls --json lists it.
    dir="${PULUMI_BACKEND_URL#file://}"
    echo "["; find "$dir/.pulumi/stacks" -name '*.json' 2>/dev/null | sed 's#.*/\(.*\)\.json#  {"name": "\1"},#'; echo "]" ;;
  "up --stack" | "destroy --stack")
    if [[ " $* " != *" --yes "* ]]; then
      printf 'Do you want to perform this %s? ' "$1"; read -r answer; echo "answer: $answer"
    fi ;;
esac
exit 0
`

// stubAWS answers sts get-caller-identity with STUB_ACCOUNT and keeps one key policy in a file,
// which kms put-key-policy replaces with the file:// argument it is given.
const stubAWS = `#!/usr/bin/env bash
echo "aws $*" >> "$STUB_LOG"
case "$1 $2" in
  "sts get-caller-identity") echo "${STUB_ACCOUNT:-111122223333}" ;;
  "kms get-key-policy") cat "$STUB_DIR/key-policy.json" ;;
  "kms put-key-policy")
    while [ $# -gt 0 ]; do [ "$1" = --policy ] && cp "${2#file://}" "$STUB_DIR/key-policy.json"; shift; done ;;
esac
`

const stubDocker = `#!/usr/bin/env bash
echo "docker $*" >> "$STUB_LOG"
exit "${STUB_DOCKER_RC:-0}"
`

const stubGo = `#!/usr/bin/env bash
echo "go $*" >> "$STUB_LOG"
`

// scriptRig is one throwaway clone with its stubs and a private HOME, PULUMI_HOME and state home.
type scriptRig struct {
	clone, home, pulumiHome, stateHome, stubs, log string
	env                                            []string
}

func newScriptRig(t *testing.T) *scriptRig {
	t.Helper()
	requireTools(t, "bash", "sed", "awk", "find")
	root := t.TempDir()
	r := &scriptRig{
		clone: filepath.Join(root, "clone"), home: filepath.Join(root, "home"),
		stateHome: filepath.Join(root, "xdg-state"), stubs: filepath.Join(root, "stubs"),
		log: filepath.Join(root, "calls.log"),
	}
	r.pulumiHome = filepath.Join(r.home, ".pulumi")
	for _, dir := range []string{filepath.Join(r.clone, "infra", "scripts"), r.home, r.stubs} {
		mustMkdir(t, dir)
	}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", "infra/scripts/pulumi.sh", "infra/scripts/smoke.sh"} {
		raw, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(r.clone, f), string(raw), 0o755)
	}
	for name, body := range map[string]string{"pulumi": stubPulumi, "aws": stubAWS, "docker": stubDocker, "go": stubGo} {
		mustWrite(t, filepath.Join(r.stubs, name), body, 0o755)
	}
	mustWrite(t, r.log, "", 0o644)
	// The caller's environment, less what would steer the scripts: this machine's Pulumi login,
	// AWS settings, CI detection.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "CI" || name == "HOME" || name == "PATH" || name == "YES" || name == "STACK" || name == "ALERT_EMAIL" ||
			name == "URL" || name == "XDG_STATE_HOME" || strings.HasPrefix(name, "PULUMI_") ||
			strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "KMSWATCH_") {
			continue
		}
		r.env = append(r.env, kv)
	}
	r.env = append(r.env,
		"PATH="+r.stubs+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+r.home, "PULUMI_HOME="+r.pulumiHome, "XDG_STATE_HOME="+r.stateHome,
		"STUB_LOG="+r.log, "STUB_DIR="+r.stubs, "STUB_EMAIL=oncall@corp.example.org",
	)
	return r
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// stateDir is where pulumi.sh keeps local state by default under the rig's XDG_STATE_HOME.
func (r *scriptRig) stateDir() string { return filepath.Join(r.stateHome, "kmswatch", "pulumi") }

// run runs a script of the clone with the rig's environment plus env; stdin is empty, not a terminal.
func (r *scriptRig) run(t *testing.T, env []string, script string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(r.clone, "infra", "scripts", script)}, args...)...)
	cmd.Env = append(append([]string(nil), r.env...), env...)
	return combined(t, cmd)
}

func combined(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return string(out), 0
}

// call is one recorded stub call: the command line and, for pulumi, what backend it was given.
type call struct{ line, backend, passphrase string }

func (r *scriptRig) calls(t *testing.T) []call {
	t.Helper()
	raw, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	var calls []call
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l == "" {
			continue
		}
		line, meta, _ := strings.Cut(l, " | ")
		c := call{line: line}
		for _, field := range strings.Fields(meta) {
			if v, ok := strings.CutPrefix(field, "backend="); ok {
				c.backend = v
			}
			if v, ok := strings.CutPrefix(field, "passphrase="); ok {
				c.passphrase = v
			}
		}
		calls = append(calls, c)
	}
	return calls
}

// called reports the first recorded call that starts with prefix.
func (r *scriptRig) called(t *testing.T, prefix string) (call, bool) {
	t.Helper()
	for _, c := range r.calls(t) {
		if strings.HasPrefix(c.line, prefix) {
			return c, true
		}
	}
	return call{}, false
}

// inOrder fails unless each prefix starts a recorded call, each after the previous one.
func (r *scriptRig) inOrder(t *testing.T, prefixes ...string) {
	t.Helper()
	calls, at := r.calls(t), 0
	for _, p := range prefixes {
		for at < len(calls) && !strings.HasPrefix(calls[at].line, p) {
			at++
		}
		if at == len(calls) {
			t.Fatalf("no call starting %q in order %q; calls:\n%v", p, prefixes, calls)
		}
		at++
	}
}

func (r *scriptRig) neverCalled(t *testing.T, prefixes ...string) {
	t.Helper()
	for _, c := range r.calls(t) {
		for _, p := range prefixes {
			if strings.HasPrefix(c.line, p) {
				t.Errorf("called %q", c.line)
			}
		}
	}
}

func wantOutput(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
