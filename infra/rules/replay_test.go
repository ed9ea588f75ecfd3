package rules

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustReadSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func gzipped(t testing.TB, data []byte) []byte {
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

// compact puts a pretty-printed sample record on one line, as CloudWatch Logs holds it.
func compact(t testing.TB, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := jsonCompact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeFiles(t testing.TB, files map[string][]byte) string {
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

// matchedIDs lists "rule eventName" per match, in result order.
func matchedIDs(res *ReplayResult) []string {
	var out []string
	for _, m := range res.Matches {
		out = append(out, res.Rules[m.Rule].ID+" "+m.EventName)
	}
	return out
}

func TestReplayReadsEveryForm(t *testing.T) {
	lab := mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json")
	disable := mustReadSample(t, "kms-disablekey.json")
	ebs := mustReadSample(t, "ebs-attach-encrypted-volume.json")
	lines := compact(t, lab) + "\n" + compact(t, mustReadSample(t, "kms-encrypt-iamuser.json")) + "\n"
	dir := writeFiles(t, map[string][]byte{
		"s3/111122223333_CloudTrail_us-west-2_20141105T2135Z_abc.json.gz": gzipped(t, ebs), // as CloudTrail writes to S3
		"plain-records.json":      ebs,           // {"Records":[...]} not compressed
		"single.json":             disable,       // one pretty-printed record
		"export.jsonl":            []byte(lines), // CloudWatch Logs, one record per line
		"export-with-time.txt":    []byte("2020-11-16T22:25:40.123Z " + compact(t, lab) + "\n"),
		"gzip-without-suffix.log": gzipped(t, []byte(lines)), // gzip told by magic bytes
		"not-gzip.json.gz":        disable,                   // a .gz name on plain JSON
		"app.log": []byte(`{"time":"2026-11-24T10:00:00.5Z","level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"kms_refused","client_ip":"203.0.113.9","kms_error":"IncorrectKeyException"}` + "\n" +
			`{"time":"2026-11-24T10:00:01Z","level":"INFO","msg":"listening"}` + "\n"),
		"CloudTrail-Digest/digest.json.gz": gzipped(t, []byte(`{"awsAccountId":"111122223333","digestStartTime":"2026-11-24T09:00:00Z","digestEndTime":"2026-11-24T10:00:00Z"}`)),
		"README.md":                        []byte("# these are logs\n"),
	})
	res := Replay([]string{dir}, ReplayOptions{Params: labParams})
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	// ebs: 4 records twice; disable twice; lines 2 x2; timestamped 1; app 2.
	if res.Records != 4+4+1+2+1+2+1+2 {
		t.Errorf("records = %d", res.Records)
	}
	want := []string{
		"kms-key-policy-change CreateGrant", "kms-key-policy-change CreateGrant", // 2014-11-05, both EBS copies
		"kms-key-disable-or-delete DisableKey", "kms-key-disable-or-delete DisableKey",
		"app-kms-errors Decrypt", "app-kms-errors Decrypt", "app-kms-errors Decrypt",
		"app-decrypt-denied decrypt_failed",
	}
	got := matchedIDs(res)
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("matches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Skipped) != 2 {
		t.Errorf("skipped = %v, want the digest file and README.md", res.Skipped)
	}
	for i := 1; i < len(res.Matches); i++ {
		if res.Matches[i].EventTime.Before(res.Matches[i-1].EventTime) {
			t.Errorf("matches out of time order at %d", i)
		}
	}
	for _, m := range res.Matches {
		if m.Rule == 3 && (m.SourceIPAddress != "203.0.113.9" || m.ErrorCode != "IncorrectKeyException") {
			t.Errorf("app log summary = %+v", m.Summary)
		}
	}
}

func TestReplayReportsMalformedInputs(t *testing.T) {
	lab := compact(t, mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json"))
	noTime := strings.Replace(lab, `"eventTime":"2020-11-16T22:25:39Z",`, "", 1)
	good := gzipped(t, mustReadSample(t, "kms-disablekey.json"))
	truncated := gzipped(t, mustReadSample(t, "ebs-attach-encrypted-volume.json"))
	truncated = truncated[:len(truncated)/2]
	for _, tc := range []struct {
		name      string
		data      []byte
		wantErr   string // in the problem's message, after the file name
		wantLine  int
		wantItems int // records of the bad file still replayed
	}{
		{"truncated gzip", truncated, "gzip: truncated", 0, 0},
		{"a non-JSON line among records", []byte(lab + "\nnot json at all\n" + lab + "\n"), "not a JSON record", 2, 2},
		{"a broken JSON line", []byte(lab + "\n" + lab[:40] + "\n"), "not valid JSON", 2, 1},
		{"a record missing eventTime", []byte(`{"Records":[` + lab + `,` + noTime + `]}`), "record 2: missing eventTime", 0, 2},
		{"a line missing eventTime", []byte(lab + "\n" + noTime + "\n"), "missing eventTime", 2, 2},
		{"an empty file", nil, "empty file", 0, 0},
		{"truncated plain JSON", mustReadSample(t, "ebs-attach-encrypted-volume.json")[:900], "not valid JSON: unexpected end of data", 0, 0},
		{"Records not an array", []byte(`{"Records":{}}`), "Records", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string][]byte{"bad.log": tc.data, "good.json.gz": good})
			bad := filepath.Join(dir, "bad.log")
			res := Replay([]string{bad, filepath.Join(dir, "good.json.gz")}, ReplayOptions{Params: labParams})
			if len(res.Problems) != 1 {
				t.Fatalf("problems = %v, want one", res.Problems)
			}
			p := res.Problems[0]
			msg := p.Error()
			if p.File != bad || !strings.HasPrefix(msg, bad) || !strings.Contains(msg, tc.wantErr) {
				t.Errorf("problem %q, want it to name %s and say %q", msg, bad, tc.wantErr)
			}
			if p.Line != tc.wantLine {
				t.Errorf("problem line = %d, want %d", p.Line, tc.wantLine)
			}
			if res.Records != 1+tc.wantItems {
				t.Errorf("records = %d, want the good file's 1 and %d of the bad file's", res.Records, tc.wantItems)
			}
			var disables int
			for _, m := range res.Matches {
				if m.EventName == "DisableKey" {
					disables++
				}
			}
			if disables != 1 {
				t.Errorf("the good file's DisableKey matched %d times, want 1", disables)
			}
		})
	}
}

func TestReplayReportsMissingAndNonLogPaths(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"notes.txt": []byte("hello\n")})
	missing := filepath.Join(dir, "nope.json")
	res := Replay([]string{missing, filepath.Join(dir, "notes.txt")}, ReplayOptions{})
	if len(res.Problems) != 2 {
		t.Fatalf("problems = %v", res.Problems)
	}
	res.SortProblems()
	if !strings.Contains(res.Problems[0].Error(), "nope.json: no such file") {
		t.Errorf("missing file: %v", res.Problems[0])
	}
	if !strings.Contains(res.Problems[1].Error(), "notes.txt:1: not a JSON record") {
		t.Errorf("named non-log file: %v", res.Problems[1])
	}
}

func TestReplayCapsProblemsPerFile(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"junk.log": []byte(`{"time":"2026-11-24T10:00:00Z","event":"x"}` + strings.Repeat("\njunk", 50))})
	res := Replay([]string{dir}, ReplayOptions{})
	if len(res.Problems) != maxBadLines+1 || !strings.Contains(res.Problems[maxBadLines].Error(), "40 more unreadable lines") {
		t.Errorf("problems = %d: %v", len(res.Problems), res.Problems)
	}
}

func TestReplayEvaluatesAlarms(t *testing.T) {
	lab := compact(t, mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json"))
	var b strings.Builder
	for _, sec := range []string{"05", "10", "20"} { // three errors in one minute
		b.WriteString(strings.Replace(lab, "22:25:39Z", "22:25:"+sec+"Z", 1) + "\n")
	}
	dir := writeFiles(t, map[string][]byte{"errors.jsonl": []byte(b.String())})
	res := Replay([]string{dir}, ReplayOptions{Params: labParams})
	ev := res.Evaluations[0]
	if res.Rules[0].ID != "app-kms-errors" || len(ev.Breaching()) != 1 || ev.Breaching()[0].Count != 3 {
		t.Fatalf("evaluation = %+v", ev)
	}
	if len(ev.Transitions) != 2 || ev.Transitions[0].To != StateAlarm || ev.Transitions[1].To != StateOK {
		t.Errorf("transitions = %+v", ev.Transitions)
	}
}

func jsonCompact(dst *bytes.Buffer, src []byte) error { return json.Compact(dst, src) }
