package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// Each test here is one bullet of issue 14; they drive the CLI only.

const shapesDir = "../../rules/testdata/shapes"

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sample(t *testing.T, name string) []byte { return mustRead(t, filepath.Join(samplesDir, name)) }
func shape(t *testing.T, name string) []byte  { return mustRead(t, filepath.Join(shapesDir, name)) }

func writeDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// matchLines returns the "rule eventName" of each match line of --json output.
func matchLines(t *testing.T, stdout string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if m["type"] == "match" {
			out = append(out, m["rule"].(string)+" "+m["eventName"].(string))
		}
	}
	return out
}

func TestInsightsFilesAreCountedNotProblems(t *testing.T) {
	dir := writeDir(t, map[string][]byte{
		"CloudTrail-Insight/insight.json.gz": gz(t, shape(t, "insights-apicallrate.json")),
		"CloudTrail/encrypt.json":            sample(t, "kms-encrypt-iamuser.json"),
	})
	r := runCLI("replay", dir)
	if r.code != exitOK || r.stderr != "kmswatch replay: note: app-decrypt-unserved skipped: it alarms on metric math (kms - served) that no log holds; "+
		"app-decrypt-unmatched answers its question exactly, per request\n"+
		"kmswatch replay: note: app-key-decrypt-rate skipped: it counts the app key's decrypts; pass --app-key-arn\n"+
		"kmswatch replay: note: app-kms-errors, app-decrypt-volume, app-decrypt-unmatched skipped: they look for the app's task role; pass --role-arn\n" {
		t.Errorf("exit %d, stderr %q; want 0 and only the note", r.code, r.stderr)
	}
	for _, want := range []string{"skipped 2 Insights events (not judged)", "CloudTrail Insights, as context", "ApiCallRateInsight  ssm.amazonaws.com  UpdateInstanceInformation"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestArraysAndByteOrderMarksAreRead(t *testing.T) {
	var arr bytes.Buffer
	arr.WriteString("[")
	arr.Write(sample(t, "kms-encrypt-iamuser.json"))
	arr.WriteString(",")
	arr.Write(sample(t, "kms-disablekey.json"))
	arr.WriteString("]")
	dir := writeDir(t, map[string][]byte{
		"array.json":    arr.Bytes(),
		"bom/with-bom":  append([]byte{0xEF, 0xBB, 0xBF}, sample(t, "kms-schedulekeydeletion.json")...),
		"bom/lines.log": append([]byte{0xEF, 0xBB, 0xBF}, compactJSON(t, sample(t, "kms-disablekey.json"))+"\n"+compactJSON(t, sample(t, "kms-encrypt-iamuser.json"))+"\n"...),
	})
	r := runCLI("replay", "--json", dir)
	got := strings.Join(matchLines(t, r.stdout), ",")
	if want := "kms-key-disable-or-delete DisableKey,kms-key-disable-or-delete DisableKey,kms-key-disable-or-delete ScheduleKeyDeletion"; got != want {
		t.Errorf("matches %s, want %s; stderr %s", got, want, r.stderr)
	}
}

func compactJSON(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLakeEventTimesAreJudged(t *testing.T) {
	r := runCLI("replay", "--json", filepath.Join(shapesDir, "siem-disablekey-lake-time.json"), filepath.Join(shapesDir, "lake-query-results-kms.json"))
	if got := matchLines(t, r.stdout); len(got) != 2 || strings.Contains(r.stderr, `eventTime "`) || r.code == exitUsage {
		t.Errorf("matches %v, stderr %q; want both DisableKeys judged", got, r.stderr)
	}
}

func TestKeyArnTakesEveryForm(t *testing.T) {
	disable := filepath.Join(samplesDir, "kms-disablekey.json") // keyId 1234abcd-..., in 111122223333
	for _, tc := range []struct {
		args    []string
		matches int
		note    string
	}{
		{[]string{"--key-arn", "1234abcd-12ab-34cd-56ef-1234567890ab"}, 1, "in every account and Region"},
		{[]string{"--key-arn", "1234abcd-12ab-34cd-56ef-1234567890ab", "--account", "111122223333", "--region", "us-east-1"}, 1, "matched as arn:aws:kms:us-east-1:111122223333:key/1234abcd"},
		{[]string{"--key-arn", "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, 1, ""},
		{[]string{"--key-arn", "0987dcba-09fe-87dc-65ba-ab0987654321"}, 0, "in every account and Region"},
		{[]string{"--key-arn", "alias/ExampleAlias"}, 0, "cannot be resolved offline"},
	} {
		r := runCLI(append(append([]string{"replay", "--json", "--rule", "kms-key-disable-or-delete"}, tc.args...), disable)...)
		if got := len(matchLines(t, r.stdout)); got != tc.matches || !strings.Contains(r.stderr, tc.note) {
			t.Errorf("%v: %d matches, stderr %q; want %d and a note %q", tc.args, got, r.stderr, tc.matches, tc.note)
		}
	}
}

func TestBadScopesAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--key-arn", "my-key"}, `--key-arn "my-key": want a key ARN`},
		{[]string{"--key-arn", "arn:aws:kms:us-east-1:1:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, "not 12 digits"},
		{[]string{"--role-arn", "arn:aws:iam::111122223333:user/Alice"}, "--role-arn"},
		{[]string{"--role-arn", "arn:aws:sts::111122223333:assumed-role/NoSession"}, "assumed-role session ARN"},
		{[]string{"--account", "1111"}, "--account \"1111\": an AWS account id is 12 digits"},
		{[]string{"--region", "Virginia"}, "--region \"Virginia\""},
	} {
		r := runCLI(append(append([]string{"replay"}, tc.args...), samplesDir)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stderr, "note:") { // the refusal is all a bad value gets
			t.Errorf("%v: notes before the refusal: %q", tc.args, r.stderr)
		}
	}
}

func TestRoleArnTakesTheSessionARN(t *testing.T) {
	session := "arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/ecs-task-4f0c2a"
	r := runCLI("replay", "--json", "--rule", "app-kms-errors", "--role-arn", session, filepath.Join(samplesDir, "lab-decrypt-incorrectkey-taskrole.json"))
	if got := matchLines(t, r.stdout); len(got) != 1 || !strings.Contains(r.stderr, "a session of role pattern1-application-Pattern1ECSTaskRole") {
		t.Errorf("matches %v, stderr %q", got, r.stderr)
	}
}

func TestWrappersAreUnwrapped(t *testing.T) {
	for _, name := range []string{"eventbridge-kms-disablekey.json", "lookup-events-kms.json", "filter-log-events-kms.json", "filter-log-events-kms.txt", "filter-log-events-query-messages.json"} {
		r := runCLI("replay", "--json", "--rule", "kms-key-disable-or-delete", filepath.Join(shapesDir, name))
		if got := matchLines(t, r.stdout); len(got) != 1 || got[0] != "kms-key-disable-or-delete DisableKey" {
			t.Errorf("%s: matches %v, stderr %q", name, got, r.stderr)
		}
	}
}

func TestAccountAndRegionKeepToTheStack(t *testing.T) {
	r := runCLI("replay", "--json", "--rule", "kms-key-disable-or-delete", "--account", "444455556666", samplesDir)
	if got := matchLines(t, r.stdout); len(got) != 0 || !strings.Contains(r.stderr, "records outside --account/--region") {
		t.Errorf("another account: matches %v, stderr %q", got, r.stderr)
	}
	r = runCLI("replay", "--json", "--rule", "kms-key-disable-or-delete", "--account", "111122223333", "--region", "us-east-1", samplesDir)
	if got := matchLines(t, r.stdout); len(got) != 2 {
		t.Errorf("the samples' account: matches %v, stderr %q", got, r.stderr)
	}
}

func TestSummaryLineOnEveryRun(t *testing.T) {
	r := runCLI("replay", samplesDir)
	if first, _, _ := strings.Cut(r.stdout, "\n"); !strings.HasPrefix(first, "Replayed 14 records from 12 files (") {
		t.Errorf("table's first line = %q", first)
	}
	r = runCLI("replay", "--json", samplesDir)
	if !strings.Contains(r.stderr, "Replayed 14 records from 12 files (") || strings.Contains(r.stdout, "Replayed") {
		t.Errorf("--json: the summary goes to stderr only: stdout %q stderr %q", r.stdout[:min(200, len(r.stdout))], r.stderr)
	}
}

func TestUnknownJSONIsNamedAndNothingJudgedFails(t *testing.T) {
	dir := writeDir(t, map[string][]byte{
		"package.json":  []byte(`{"name":"not-a-log","version":"1.0.0"}`),
		"rotation.json": shape(t, "eventbridge-kms-cmk-rotation.json"),
		"digest.json":   shape(t, "digest-file.json"),
	})
	r := runCLI("replay", dir)
	for _, want := range []string{
		"package.json: a JSON object with none of CloudTrail's fields",
		`rotation.json: an EventBridge event of detail-type "KMS CMK Rotation"`,
		"no records: 3 files read, and none held a CloudTrail record or an app log line to judge",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.code != exitFindings || !strings.Contains(r.stdout, "Replayed 0 records from 3 files; skipped 1 digest file; 2 JSON values of no known shape (on stderr).") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}

// The table's counts read as English: one record, one period, one transition, once.
func TestTableCountsAreSingularWhenOne(t *testing.T) {
	r := runCLI("replay", "--role-arn", labRole, samplesDir)
	for _, want := range []string{
		"app-kms-errors [high] fires >= 2 per 1m in 1 of 21 periods: 1 record matched, 0 periods breach, 0 alarm transitions\n",
		"kms-key-policy-change [critical] fires at once, per event: 3 records matched, fired 3 times\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, " 1 records") || strings.Contains(r.stdout, "1 times") {
		t.Errorf("a count of one in the plural:\n%s", r.stdout)
	}
	one := runCLI("replay", "--rule", "kms-key-policy-change", filepath.Join(samplesDir, "kms-putkeypolicy.json"))
	if !strings.Contains(one.stdout, "1 record matched, fired once\n") {
		t.Errorf("one PutKeyPolicy:\n%s", one.stdout)
	}
}

// Large counts read with thousands separators, as tune and the report print them.
func TestSummaryLineSeparatesThousands(t *testing.T) {
	res := &rules.ReplayResult{Files: 100, Records: 200000, Tally: rules.Tally{ByShape: map[string]int{"CloudTrail log files": 200000}}}
	if got, want := summaryLine(res), "Replayed 200,000 records from 100 files (CloudTrail log files: 200,000)"; !strings.HasPrefix(got, want) {
		t.Errorf("summary %q, want it to start %q", got, want)
	}
}
