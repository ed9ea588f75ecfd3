package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPulumiScriptKeepsLocalStateOutsideTheCloneAndNeverLogsIn(t *testing.T) {
	r := newScriptRig(t)
	out, code := r.run(t, []string{"YES=1"}, "pulumi.sh", "up")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	state := r.stateDir()
	r.inOrder(t, "docker info", "aws sts get-caller-identity",
		"pulumi stack select --create dev --non-interactive", "pulumi up --stack dev --yes", "pulumi stack output --stack dev")
	r.neverCalled(t, "pulumi login", "pulumi logout", "pulumi whoami")
	for _, c := range r.calls(t) {
		if strings.HasPrefix(c.line, "pulumi ") && (c.backend != "file://"+state || c.passphrase != "set") {
			t.Errorf("%q ran with backend %q, passphrase %q; want file://%s and the empty passphrase", c.line, c.backend, c.passphrase, state)
		}
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("state directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.pulumiHome, "credentials.json")); !os.IsNotExist(err) {
		t.Errorf("credentials.json exists (err %v): the global login was touched", err)
	}
	if _, err := os.Stat(filepath.Join(r.clone, ".pulumi-state")); !os.IsNotExist(err) {
		t.Errorf(".pulumi-state was created in the clone (err %v)", err)
	}
	wantOutput(t, out, "Pulumi state of stack dev: "+state, "export PULUMI_BACKEND_URL='file://"+state+"' PULUMI_CONFIG_PASSPHRASE=",
		"confirm the subscription mailed to oncall@corp.example.org")
}

func TestPulumiScriptUsesTheBackendYouAlreadyHave(t *testing.T) {
	cases := []struct {
		name, wantBackend, wantNote string
		env                         []string
		setup                       func(r *scriptRig)
	}{
		{name: "PULUMI_BACKEND_URL", env: []string{"PULUMI_BACKEND_URL=s3://team-state?region=eu-west-1&awssdk=v2"},
			wantBackend: "s3://team-state?region=eu-west-1&awssdk=v2", wantNote: "the backend of PULUMI_BACKEND_URL"},
		{name: "pulumi login", wantBackend: "unset", wantNote: "your pulumi login (https://api.pulumi.com)",
			setup: func(r *scriptRig) {
				mustWrite(t, filepath.Join(r.pulumiHome, "credentials.json"), `{
    "current": "https://api.pulumi.com",
    "accessTokens": {"https://api.pulumi.com": "pul-x"}
}`, 0o600)
			}},
		{name: "backend.url in Pulumi.yaml", wantBackend: "unset", wantNote: "backend.url in Pulumi.yaml",
			setup: func(r *scriptRig) {
				f, err := os.OpenFile(filepath.Join(r.clone, "Pulumi.yaml"), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteString("backend:\n  url: s3://team-state\n"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "PULUMI_ACCESS_TOKEN", env: []string{"PULUMI_ACCESS_TOKEN=pul-x"},
			wantBackend: "https://api.pulumi.com", wantNote: "PULUMI_ACCESS_TOKEN (Pulumi Cloud)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newScriptRig(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			out, code := r.run(t, tc.env, "pulumi.sh", "preview")
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			preview, ok := r.called(t, "pulumi preview --stack dev")
			if !ok {
				t.Fatalf("no preview; calls %v", r.calls(t))
			}
			if preview.backend != tc.wantBackend || preview.passphrase != "" {
				t.Errorf("preview ran with backend %q, passphrase %q; want %q and no passphrase chosen for you", preview.backend, preview.passphrase, tc.wantBackend)
			}
			if _, err := os.Stat(r.stateDir()); !os.IsNotExist(err) {
				t.Errorf("local state directory made although a backend was given (err %v)", err)
			}
			r.neverCalled(t, "pulumi login", "pulumi whoami")
			wantOutput(t, out, tc.wantNote)
		})
	}
}

func TestPulumiScriptUpShowsThePlanAndAsksInATerminal(t *testing.T) {
	requireTools(t, "script")
	r := newScriptRig(t)
	cmd := exec.Command("script", "-qec", "bash "+filepath.Join(r.clone, "infra", "scripts", "pulumi.sh")+" up", "/dev/null")
	cmd.Env = append(append([]string(nil), r.env...), "TERM=xterm")
	cmd.Stdin = strings.NewReader("yes\n")
	out, code := combined(t, cmd)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	up, ok := r.called(t, "pulumi up --stack dev")
	if !ok || strings.Contains(up.line, "--yes") {
		t.Errorf("up call %q (found %v), want pulumi's own question, without --yes", up.line, ok)
	}
	wantOutput(t, out, "Do you want to perform this up?", "answer: yes")
}

func TestPulumiScriptRefusesToChangeAnythingWithoutATerminalOrYES(t *testing.T) {
	for _, command := range []string{"up", "destroy"} {
		t.Run(command, func(t *testing.T) {
			r := newScriptRig(t)
			out, code := r.run(t, nil, "pulumi.sh", command)
			if code != 2 {
				t.Errorf("exit %d, want 2:\n%s", code, out)
			}
			wantOutput(t, out, "there is no terminal to ask in", "YES=1 make "+command)
			if calls := r.calls(t); len(calls) != 0 {
				t.Errorf("refused after running %v; the refusal comes first", calls)
			}
		})
	}
}

func TestPulumiScriptPassesAYesArgumentOnce(t *testing.T) {
	r := newScriptRig(t)
	out, code := r.run(t, []string{"YES=1"}, "pulumi.sh", "destroy", "--yes")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if c, _ := r.called(t, "pulumi destroy"); c.line != "pulumi destroy --stack dev --yes" {
		t.Errorf("destroy call %q, want one --yes", c.line)
	}
	r.neverCalled(t, "docker", "go")
}

func TestPulumiScriptPreviewNeedsADockerDaemon(t *testing.T) {
	r := newScriptRig(t)
	out, code := r.run(t, []string{"STUB_DOCKER_RC=1"}, "pulumi.sh", "preview")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "Docker is installed but not answering")
	r.neverCalled(t, "pulumi preview")

	r = newScriptRig(t)
	out, code = r.run(t, nil, "pulumi.sh", "preview", "--diff")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	r.inOrder(t, "docker info", "pulumi preview --stack dev --diff")
}

func TestPulumiScriptWarnsWhenAnyoneMayReachTheService(t *testing.T) {
	cases := []struct{ cidrs, want string }{
		{`["0.0.0.0/0"]`, "pulumi config set --path 'allowedCidrs[0]' <your CIDR>"},
		{`["198.51.100.0/24","0.0.0.0/0"]`, "pulumi config set --path 'allowedCidrs[1]' <your CIDR>"},
		{`["203.0.113.0/24"]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.cidrs, func(t *testing.T) {
			r := newScriptRig(t)
			out, code := r.run(t, []string{"YES=1", "STUB_CIDRS=" + tc.cidrs}, "pulumi.sh", "up")
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			if tc.want == "" {
				if strings.Contains(out, "WARNING") {
					t.Errorf("warned about %s:\n%s", tc.cidrs, out)
				}
				return
			}
			wantOutput(t, out, "allowedCidrs includes 0.0.0.0/0", "no authentication, so anyone can decrypt every record", tc.want)
		})
	}
}

func TestPulumiScriptSetsTheAddressFromALERT_EMAILAndRefusesWithoutOne(t *testing.T) {
	r := newScriptRig(t)
	out, code := r.run(t, []string{"YES=1", "STUB_EMAIL="}, "pulumi.sh", "up")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "alertEmail is not set", "ALERT_EMAIL=<you@your-domain> make up")
	r.neverCalled(t, "pulumi up")

	// Preview stops the same way: the real CLI refuses a stack without alertEmail, and answers no
	// other `config get` until it is set, so the allowedCidrs warning would silently go missing.
	r = newScriptRig(t)
	out, code = r.run(t, []string{"STUB_EMAIL="}, "pulumi.sh", "preview")
	if code != 1 {
		t.Errorf("preview: exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "alertEmail is not set")
	r.neverCalled(t, "pulumi preview")

	r = newScriptRig(t)
	out, code = r.run(t, []string{"YES=1", "ALERT_EMAIL=secops@corp.example.org"}, "pulumi.sh", "up")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	r.inOrder(t, "pulumi stack select --create dev", "pulumi config set alertEmail secops@corp.example.org --stack dev", "pulumi up --stack dev --yes")
}

func TestPulumiScriptRefusesAStackDeployedInAnotherAccount(t *testing.T) {
	r := newScriptRig(t)
	out, code := r.run(t, []string{"YES=1", "STUB_TASK_ROLE=arn:aws:iam::999988887777:role/kmswatch-task", "STUB_ACCOUNT=111122223333"}, "pulumi.sh", "up")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "deployed in AWS account 999988887777", "credentials are for account 111122223333")
	r.neverCalled(t, "pulumi up")
}

func TestPulumiScriptInCIPreviewsOnlyAStackThatExists(t *testing.T) {
	ci := []string{"CI=true", "PULUMI_BACKEND_URL=s3://team-state"}
	r := newScriptRig(t)
	out, code := r.run(t, append(ci, "STUB_NO_STACK=1"), "pulumi.sh", "preview")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "stack dev is not in this backend; CI previews a deployed stack")
	r.neverCalled(t, "pulumi preview", "pulumi stack select --create")

	r = newScriptRig(t)
	out, code = r.run(t, ci, "pulumi.sh", "preview")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	r.inOrder(t, "pulumi stack select dev --non-interactive", "pulumi preview --stack dev")
}

// legacyState lays out what the earlier pulumi.sh left: state in the clone and a global login to it.
func legacyState(t *testing.T, r *scriptRig) string {
	t.Helper()
	legacy := filepath.Join(r.clone, ".pulumi-state")
	mustWrite(t, filepath.Join(legacy, ".pulumi", "meta.yaml"), "version: 1\n", 0o644)
	mustWrite(t, filepath.Join(legacy, ".pulumi", "stacks", "kmswatch", "dev.json"), `{"version": 3}`, 0o644)
	mustWrite(t, filepath.Join(r.pulumiHome, "credentials.json"),
		"{\n    \"current\": \"file://"+legacy+"\",\n    \"accessTokens\": {}\n}\n", 0o600)
	return legacy
}

func TestPulumiScriptRefusesToRunBesideStateInTheClone(t *testing.T) {
	r := newScriptRig(t)
	legacyState(t, r)
	out, code := r.run(t, nil, "pulumi.sh", "preview")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "holds the Pulumi state of stack(s) dev", "infra/scripts/pulumi.sh move-state", "pulumi logout 'file://")
	r.neverCalled(t, "pulumi stack select", "pulumi preview")
}

func TestPulumiScriptMovesTheCloneStateOutOfTheClone(t *testing.T) {
	r := newScriptRig(t)
	legacy := legacyState(t, r)
	out, code := r.run(t, nil, "pulumi.sh", "move-state")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	moved := filepath.Join(r.stateDir(), ".pulumi", "stacks", "kmswatch", "dev.json")
	if raw, err := os.ReadFile(moved); err != nil || string(raw) != `{"version": 3}` {
		t.Errorf("moved stack %s: %q, %v", moved, raw, err)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Errorf("the clone's copy is still there (err %v)", err)
	}
	if c, ok := r.called(t, "pulumi stack ls"); !ok || c.backend != "file://"+r.stateDir() {
		t.Errorf("the move was not checked with pulumi stack ls on the new state: %+v", c)
	}
	wantOutput(t, out, "Pulumi lists them there", "pulumi logout 'file://"+legacy+"'")

	// Now the scripts run, on the moved state, and ignore the stale login.
	out, code = r.run(t, nil, "pulumi.sh", "preview")
	if code != 0 {
		t.Fatalf("after the move: exit %d:\n%s", code, out)
	}
	if c, _ := r.called(t, "pulumi preview"); c.backend != "file://"+r.stateDir() {
		t.Errorf("preview after the move ran on %q", c.backend)
	}
}

func TestPulumiScriptMoveStateLeavesBothAloneWhenTheStackIsInBoth(t *testing.T) {
	r := newScriptRig(t)
	legacy := legacyState(t, r)
	mustWrite(t, filepath.Join(r.stateDir(), ".pulumi", "stacks", "kmswatch", "dev.json"), `{"other": true}`, 0o644)
	out, code := r.run(t, nil, "pulumi.sh", "move-state")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantOutput(t, out, "already has stack(s) dev", "pulumi stack export --stack <name>")
	if raw, _ := os.ReadFile(filepath.Join(legacy, ".pulumi", "stacks", "kmswatch", "dev.json")); string(raw) != `{"version": 3}` {
		t.Errorf("the clone's state changed: %q", raw)
	}
	if raw, _ := os.ReadFile(filepath.Join(r.stateDir(), ".pulumi", "stacks", "kmswatch", "dev.json")); string(raw) != `{"other": true}` {
		t.Errorf("the existing state changed: %q", raw)
	}
}

func TestPulumiScriptRejectsBadUsage(t *testing.T) {
	r := newScriptRig(t)
	for _, args := range [][]string{{"deploy"}, {}, {"output"}} {
		out, code := r.run(t, nil, "pulumi.sh", args...)
		if code != 2 || !strings.Contains(out, "pulumi.sh") {
			t.Errorf("%v: exit %d, want 2 with usage:\n%s", args, code, out)
		}
	}
	if calls := r.calls(t); len(calls) != 0 {
		t.Errorf("bad usage ran %v", calls)
	}
}
