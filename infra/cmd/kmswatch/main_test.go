package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

const (
	samplesDir = "../../rules/testdata/cloudtrail"
	labRole    = "arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(args ...string) result {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestUsageAndHelp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		noStdout bool
	}{
		{"no command is bad usage", nil, exitUsage, "", "Usage:", true},
		{"--help", []string{"--help"}, exitOK, "kmswatch replay", "", false},
		{"help replay", []string{"help", "replay"}, exitOK, "--role-arn", "", false},
		{"replay --help", []string{"replay", "--help"}, exitOK, "Exit status", "", false},
		{"rules -h", []string{"rules", "-h"}, exitOK, "--key-arn", "", false},
		{"rehearse --help", []string{"rehearse", "--help"}, exitOK, "--wrong-keys", "", false},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`, true},
		{"unknown flag names the flag", []string{"replay", "--frob", "x"}, exitUsage, "", "flag provided but not defined: --frob", true},
		{"help spells flags with two dashes", []string{"replay", "--help"}, exitOK, "\n  --role-arn string", "", false},
		{"version", []string{"version"}, exitOK, "kmswatch ", "", false},
		{"version takes no arguments", []string{"version", "x"}, exitUsage, "", `unexpected argument "x"`, true},
		{"replay without files", []string{"replay", "--role-arn", labRole}, exitUsage, "", "no FILE or DIR given", true},
		{"bad period names the flag", []string{"replay", "--period", "90s", "x.json"}, exitUsage, "", "--period 1m30s", true},
		{"unknown rule names it", []string{"replay", "--rule", "nope", "x.json"}, exitUsage, "", `--rule "nope": no such rule`, true},
		{"role that is no ARN", []string{"replay", "--role-arn", "pattern1", "x.json"}, exitUsage, "", `--role-arn "pattern1"`, true},
		{"rules takes no arguments", []string{"rules", "extra"}, exitUsage, "", `unexpected argument "extra"`, true},
		{"unknown query format", []string{"rules", "--format", "sql"}, exitUsage, "", `--format "sql": want athena or insights`, true},
		{"json and a query format", []string{"rules", "--json", "--format", "athena"}, exitUsage, "", "--json and --format: choose one", true},
		{"negative wrong keys", []string{"rehearse", "--wrong-keys", "-1"}, exitUsage, "", "--wrong-keys -1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code = %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stdout %q\nstderr %q\nwant stdout with %q, stderr with %q", r.stdout, r.stderr, tc.stdout, tc.stderr)
			}
			if tc.noStdout && r.stdout != "" {
				t.Errorf("stdout should stay empty on errors, got %q", r.stdout)
			}
		})
	}
}

func TestRulesCommand(t *testing.T) {
	r := runCLI("rules")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		`{ ($.errorCode = "*") && ($.eventSource = "kms.amazonaws.com") && ($.userIdentity.sessionContext.sessionIssuer.arn = "<task role ARN>") }`,
		`{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}`,
		"app-decrypt-volume", "kms-key-policy-change      critical  eventbridge  at once, per event",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rules table lacks %q:\n%s", want, r.stdout)
		}
	}
	// The CONTAIN column names exactly the rules containOnRules may name.
	for _, line := range strings.Split(r.stdout, "\n")[1 : 1+len(rules.Default())] {
		id, contain := strings.Fields(line)[0], line[strings.LastIndex(line, " ")+1:]
		rule, _ := rules.Lookup(id)
		if want := map[bool]string{true: "may", false: "-"}[rule.CanContain()]; contain != want {
			t.Errorf("%s: CONTAIN %q, want %q", id, contain, want)
		}
	}
	r = runCLI("rules", "--json", "--role-arn", labRole)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || len(lines) != len(rules.Default()) {
		t.Fatalf("exit %d, %d lines:\n%s", r.code, len(lines), r.stdout)
	}
	var first struct {
		ID            string `json:"id"`
		FilterPattern string `json:"filterPattern"`
		Alarm         struct {
			Threshold float64
		} `json:"alarm"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.ID != "app-kms-errors" || !strings.Contains(first.FilterPattern, labRole) || first.Alarm.Threshold != 2 {
		t.Errorf("first rule = %+v", first)
	}
}

func TestReplayTableAndExitCodes(t *testing.T) {
	r := runCLI("replay", "--role-arn", labRole, samplesDir)
	if r.code != exitFindings {
		t.Errorf("samples hold a DisableKey: exit %d, want %d", r.code, exitFindings)
	}
	for _, want := range []string{
		"Replayed 14 records from 12 files (single records: 10, CloudTrail log files: 4); skipped 1 file that is not a log.",
		"kms-key-disable-or-delete [critical]",
		"2014-11-04T00:52:43Z  DisableKey",
		"IncorrectKeyException  arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/ecs-task-4f0c2a  10.0.1.37",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	quiet := filepath.Join(samplesDir, "kms-encrypt-iamuser.json")
	if r := runCLI("replay", quiet); r.code != exitOK || !strings.Contains(r.stderr, "skipped: they look for the app's task role") {
		t.Errorf("an Encrypt alone: exit %d, stderr %q; want 0 and the note on skipped app rules", r.code, r.stderr)
	}
}

func TestReplayJSONShape(t *testing.T) {
	dir := t.TempDir()
	lab, err := os.ReadFile(filepath.Join(samplesDir, "lab-decrypt-incorrectkey-taskrole.json"))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, lab); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(compact.String() + "\n" + compact.String() + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "export.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"Records":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Flags after the paths are accepted too.
	r := runCLI("replay", dir, "--json", "--role-arn", labRole)
	if r.code != exitFindings {
		t.Errorf("exit %d, want %d", r.code, exitFindings)
	}
	if !strings.Contains(r.stderr, "broken.json: not valid JSON: unexpected end of data") {
		t.Errorf("stderr should name the broken file: %q", r.stderr)
	}
	var matches, periods int
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		switch line["type"] {
		case "match":
			matches++
			for _, k := range []string{"rule", "eventID", "eventTime", "eventName", "errorCode", "principal", "sourceIPAddress"} {
				if _, ok := line[k]; !ok {
					t.Errorf("match line lacks %s: %s", k, sc.Text())
				}
			}
			if line["rule"] != "app-kms-errors" || line["errorCode"] != "IncorrectKeyException" || line["eventTime"] != "2020-11-16T22:25:39Z" {
				t.Errorf("match line = %s", sc.Text())
			}
		case "period":
			periods++
			want := map[string]any{"rule": "app-kms-errors", "periodStart": "2020-11-16T22:25:00Z", "count": 2.0, "threshold": 2.0, "state": "ALARM"}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("period line %s = %v, want %v", k, line[k], v)
				}
			}
		default:
			t.Errorf("line of unknown type: %s", sc.Text())
		}
	}
	if matches != 2 || periods != 1 {
		t.Errorf("%d match lines and %d period lines, want 2 and 1", matches, periods)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "tab\tnew\nline\x01", "ünïcödé ✓", "bad \xff byte"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q -> %s: not JSON: %v", s, got, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("%q round-tripped to %q", s, back)
		}
	}
}
