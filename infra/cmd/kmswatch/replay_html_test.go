package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One failed decrypt by the task role: below the lab's threshold of 2 per minute.
func oneLabError(t *testing.T) string {
	return writeDir(t, map[string][]byte{"lab.json": sample(t, "lab-decrypt-incorrectkey-taskrole.json")})
}

// periodThresholds returns the threshold of each --json period line of a rule.
func periodThresholds(t *testing.T, stdout, rule string) []float64 {
	t.Helper()
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var v struct {
			Type, Rule string
			Threshold  float64
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if v.Type == "period" && v.Rule == rule {
			out = append(out, v.Threshold)
		}
	}
	return out
}

func TestReplayJudgesWithTheStacksFiring(t *testing.T) {
	dir := oneLabError(t)
	shipped := runCLI("replay", "--json", "--role-arn", labRole, dir)
	if shipped.code != exitOK || len(periodThresholds(t, shipped.stdout, "app-kms-errors")) != 0 {
		t.Fatalf("as shipped: exit %d, %s: want no breach of >= 2 from one error", shipped.code, shipped.stdout)
	}
	stack := writeStack(t, "name: kmswatch\n", "config:\n  kmswatch:appKmsErrorsThreshold: 1\n")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"the stack file", []string{"--stack-config", stack}},
		{"--set", []string{"--set", "appKmsErrorsThreshold=1"}},
		{"--set over the stack file", []string{"--stack-config", writeStack(t, "name: kmswatch\n", "config:\n  kmswatch:appKmsErrorsThreshold: 9\n"), "--set", "appKmsErrorsThreshold=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"replay", "--json", "--role-arn", labRole}, tc.args...)
			r := runCLI(append(args, dir)...)
			got := periodThresholds(t, r.stdout, "app-kms-errors")
			if r.code != exitFindings || len(got) == 0 || got[0] != 1 {
				t.Errorf("exit %d, thresholds %v: want the one error to breach a threshold of 1 (exit 1)\nstderr: %s", r.code, got, r.stderr)
			}
		})
	}
}

func TestReplayRefusesBadFiringSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"an unknown setting", []string{"--set", "appKmsErrorThreshold=3"}, `"appKmsErrorThreshold": no such setting; the rules' settings are appKmsErrorsThreshold,`},
		{"no value", []string{"--set", "appKmsErrorsThreshold"}, `"appKmsErrorsThreshold": want NAME=VALUE`},
		{"a value CloudWatch refuses", []string{"--set", "appKmsErrorsPeriodSeconds=90"}, "appKmsErrorsPeriodSeconds 90: CloudWatch accepts a multiple of 60"},
		{"not a number", []string{"--set", "appDecryptVolumeThreshold=lots"}, `appDecryptVolumeThreshold "lots": want a whole number`},
		{"a missing stack file", []string{"--stack-config", filepath.Join(t.TempDir(), "Pulumi.none.yaml")}, "--stack-config: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(append(append([]string{"replay"}, tc.args...), "x.json")...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
				t.Errorf("exit %d, stderr %q: want exit 2 with %q and nothing on stdout", r.code, r.stderr, tc.stderr)
			}
		})
	}
}

func TestReplayWritesTheHTMLReport(t *testing.T) {
	page := filepath.Join(t.TempDir(), "report.html")
	r := runCLI("replay", "--role-arn", labRole, "--html", page, samplesDir)
	if r.code != exitFindings { // the samples fire kms-key-disable-or-delete and kms-key-policy-change
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "kmswatch replay: report written to "+page) || !strings.Contains(r.stdout, "app-kms-errors [high]") {
		t.Errorf("stdout %q\nstderr %q: want the table as usual and the page named", r.stdout, r.stderr)
	}
	info, err := os.Stat(page)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v: a page naming principals and keys is the user's alone (0600)", info.Mode().Perm())
	}
	html := string(mustRead(t, page))
	for _, want := range []string{
		"14 records from 12 files", "Firing: the rules as shipped.",
		`id="rule-app-kms-errors"`, `id="rule-kms-key-policy-change"`,
		"<code>arn:aws:iam::111122223333:user/Alice</code>", // behind the DisableKey
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Every rule replayed has its chart: the log rules and the join, not the two metric rules
	// (app-key-decrypt-rate needs --app-key-arn; app-decrypt-unserved reads no log).
	if n := strings.Count(html, `<svg class="chart"`); n != 6 {
		t.Errorf("%d charts, want 6", n)
	}
	for _, want := range []string{"app-key-decrypt-rate skipped: it counts the app key&#39;s decrypts; pass --app-key-arn", "app-decrypt-unserved skipped"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks the note %q", want)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(page), ".report.html.*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestReplayHTMLSaysWhatItWasJudgedWith(t *testing.T) {
	page := filepath.Join(t.TempDir(), "r.html")
	stack := writeStack(t, "name: kmswatch\n", "config:\n  kmswatch:appDecryptDeniedThreshold: 3\n")
	r := runCLI("replay", "--stack-config", stack, "--set", "appDecryptDeniedPeriodSeconds=600", "--html", page, samplesDir)
	if r.code == exitUsage {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	html := string(mustRead(t, page))
	for _, want := range []string{
		"Firing: the stack file " + stack + ", --set appDecryptDeniedPeriodSeconds=600.",
		"Fires &gt;= 3 per 10m in 1 of 5 periods.",
		"app-kms-errors, app-decrypt-volume, app-decrypt-unmatched skipped: they look for the app&#39;s task role; pass --role-arn",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, `id="rule-app-kms-errors"`) {
		t.Error("a rule that was not replayed has a chart")
	}
}

func TestReplayHTMLToAPathThatCannotBeWritten(t *testing.T) {
	page := filepath.Join(t.TempDir(), "no-such-dir", "report.html")
	r := runCLI("replay", "--json", "--html", page, samplesDir)
	if r.code != exitFindings || !strings.Contains(r.stderr, "kmswatch replay: --html: ") || !strings.Contains(r.stderr, "no-such-dir") {
		t.Errorf("exit %d, stderr %q: want exit 1 naming the path", r.code, r.stderr)
	}
	if _, err := os.Stat(page); err == nil {
		t.Error("a page was written")
	}
}
