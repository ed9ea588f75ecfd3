package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// The known corpus of the golden and browser tests: one hour, 10:00 to 10:59:59 UTC, made of the
// AWS-published samples with their times moved, and the app's own decrypt_failed lines. What
// each rule sees, and so what its chart must show:
//
//	app-kms-errors (>= 2 per 1 min)      1 at 10:05, 3 at 10:12, 8 at 10:30: max 8, y axis to 10
//	app-decrypt-denied (>= 5 per 5 min)  6 at 10:20: max 6, y axis to 10
//	app-decrypt-volume (>= 1000 / 5 min) 3 successful decrypts at 10:50: y axis to 1,000
//	kms-key-disable-or-delete (>= 1)     DisableKey at 10:40
//	kms-key-policy-change (at once)      PutKeyPolicy at 10:45, CreateGrant at 10:46
//	app-key-decrypt-rate (>= 200 / 1 min) the same 3 successful decrypts of the app key: y axis to 200
//	app-decrypt-unmatched (at once)      none judged: the app's log (its lines at 10:20) does not cover 10:50
//
// app-decrypt-unserved is not replayed, as kmswatch replay leaves it out: it alarms on metric math.
var corpusStart = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

const (
	samplesDir = "../rules/testdata/cloudtrail"
	labRole    = "arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole"
	labKey     = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// replayedRules are the shipped rules kmswatch replay runs given a role and the app key: all
// but the metric-math one.
func replayedRules() []rules.Rule {
	var rs []rules.Rule
	for _, r := range rules.Default() {
		if r.Expression() == "" {
			rs = append(rs, r)
		}
	}
	return rs
}

// sample reads an AWS sample record and moves it to minute m, second s of the corpus's hour;
// edit, when given, changes it first.
func sample(t testing.TB, name string, m, s int, edit func(map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rec["eventTime"] = corpusStart.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second).Format(time.RFC3339)
	rec["eventID"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", m*100+s)
	if edit != nil {
		edit(rec)
	}
	line, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(line)
}

func deniedLine(m, s int) string {
	at := corpusStart.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	return fmt.Sprintf(`{"time":%q,"level":"WARN","msg":"decrypt failed","event":"decrypt_failed","reason":"kms_refused","status":403,"client_ip":"198.51.100.%d"}`,
		at.Format(time.RFC3339Nano), 7+s%2)
}

func knownCorpus(t testing.TB) string {
	t.Helper()
	lab := "lab-decrypt-incorrectkey-taskrole.json"
	lines := []string{
		sample(t, "kms-encrypt-iamuser.json", 0, 0, nil), // matched by nothing: the hour's first record
		sample(t, lab, 5, 10, nil),
	}
	for s := range 3 {
		lines = append(lines, sample(t, lab, 12, 10+s, nil))
	}
	for s := range 8 {
		lines = append(lines, sample(t, lab, 30, 5+s, nil))
	}
	for s := range 6 {
		lines = append(lines, deniedLine(20, 2+s))
	}
	lines = append(lines,
		sample(t, "kms-disablekey.json", 40, 0, nil),
		sample(t, "kms-putkeypolicy.json", 45, 0, nil),
		sample(t, "kms-creategrant.json", 46, 30, nil),
	)
	for s := range 3 { // the task role's decrypts that succeed
		lines = append(lines, sample(t, lab, 50, s, func(r map[string]any) { delete(r, "errorCode"); delete(r, "errorMessage") }))
	}
	lines = append(lines, sample(t, "kms-encrypt-iamuser.json", 59, 59, nil)) // and its last
	return strings.Join(lines, "\n") + "\n"
}

// replayKnown replays the known corpus with the rules replay runs, the lab's task role and key,
// and the contributors counted, as kmswatch replay --html does.
func replayKnown(t testing.TB) Report {
	t.Helper()
	var c Contributors
	res := rules.ReplayData("known.jsonl", []byte(knownCorpus(t)), rules.ReplayOptions{
		Rules: replayedRules(), Params: rules.Params{TaskRoleARN: labRole, AppKeyARN: labKey}, OnMatch: c.Add, Span: true, MatchKeys: true,
	})
	if len(res.Problems) > 0 {
		t.Fatalf("problems replaying the known corpus: %v", res.Problems)
	}
	return Report{Result: res, Contributors: &c, Inputs: []string{"known.jsonl"}, Firing: "the rules as shipped"}
}
