package rules

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// joinRule is the offline join as shipped.
func joinRule(t *testing.T) Rule {
	t.Helper()
	r, ok := Lookup("app-decrypt-unmatched")
	if !ok {
		t.Fatal("no app-decrypt-unmatched rule")
	}
	return r
}

// decryptAt is the task role's successful Decrypt at t with a request id, from addr.
func decryptAt(t time.Time, requestID, addr string) string {
	return strings.Replace(decryptRecord(exampleKeyARN, requestID, addr), "2026-11-24T10:00:00Z", t.UTC().Format(time.RFC3339), 1)
}

func servedAt(t time.Time, requestID string) string {
	return servedLine(t.UTC().Format("2006-01-02T15:04:05.000Z"), requestID)
}

// An app log line that is not a served decrypt, as the app writes one a minute (app/emf).
func metricsLineAt(t time.Time) string {
	return `{"time":"` + t.UTC().Format("2006-01-02T15:04:05.000Z") + `","level":"INFO","msg":"metrics","event":"metrics","Service":"kmswatch-dev","DecryptsServed":0}`
}

var t10 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// The trail and the app's log, in two files as a person exports them: every Decrypt by the task
// role without a served line is reported with its caller, address and time; the served ones, a
// failed Decrypt and another principal's are not.
func TestReplayJoinsTheTrailWithTheAppsLog(t *testing.T) {
	trail := strings.Join([]string{
		decryptAt(t10.Add(1*time.Second), "req-served-1", "192.0.2.44"),
		decryptAt(t10.Add(2*time.Second), "req-copy-1", "198.51.100.23"),
		decryptAt(t10.Add(3*time.Second), "req-served-2", "192.0.2.44"),
		decryptAt(t10.Add(4*time.Second), "req-copy-2", "198.51.100.23"),
		compact(t, mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json")),
		compact(t, mustReadSample(t, "kms-decrypt-success-iamuser.json")),
	}, "\n")
	appLog := strings.Join([]string{
		metricsLineAt(t10),
		servedAt(t10.Add(1*time.Second+30*time.Millisecond), "req-served-1"),
		servedAt(t10.Add(3*time.Second+25*time.Millisecond), "req-served-2"),
		metricsLineAt(t10.Add(time.Minute)),
	}, "\n")
	dir := writeFiles(t, map[string][]byte{"trail.jsonl": []byte(trail + "\n"), "app.log": []byte(appLog + "\n")})
	res := Replay([]string{dir}, ReplayOptions{Rules: []Rule{joinRule(t)}, Params: labParams})
	if len(res.Problems) > 0 || len(res.Notes) > 0 {
		t.Fatalf("problems %v, notes %q", res.Problems, res.Notes)
	}
	var got []string
	for _, m := range res.Matches {
		got = append(got, fmt.Sprintf("%s %s %s %s", m.EventTime.Format("15:04:05"), m.RequestID, m.SourceIPAddress, m.Principal))
	}
	want := []string{
		"10:00:02 req-copy-1 198.51.100.23 arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/task",
		"10:00:04 req-copy-2 198.51.100.23 arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/task",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unmatched:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := res.Counts()[0]; c != 2 || len(res.Evaluations[0].Periods) != 2 {
		t.Errorf("count %d, fired %d times; want 2 and 2 (each unmatched decrypt fires)", c, len(res.Evaluations[0].Periods))
	}
}

// Without the app's log every Decrypt would look unmatched: replay says so and reports none.
func TestJoinWithoutTheAppsLogJudgesNothing(t *testing.T) {
	res := ReplayData("trail.jsonl", []byte(decryptAt(t10, "req-1", "198.51.100.23")+"\n"), ReplayOptions{Rules: []Rule{joinRule(t)}, Params: labParams})
	if len(res.Matches) != 0 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "no app log lines among the inputs, so 1 Decrypt by the task role was not judged") {
		t.Errorf("matches %v, notes %q", res.Matches, res.Notes)
	}
}

// A Decrypt outside the times the app log covers cannot be vouched for either way: not judged,
// and counted in a note with the log's span.
func TestJoinJudgesOnlyWhatTheAppLogCovers(t *testing.T) {
	data := strings.Join([]string{
		metricsLineAt(t10), metricsLineAt(t10.Add(time.Minute)),
		decryptAt(t10.Add(30*time.Second), "inside", "198.51.100.23"),
		decryptAt(t10.Add(58*time.Second), "too-close-to-the-end", "198.51.100.23"),
		decryptAt(t10.Add(-time.Minute), "before", "198.51.100.23"),
	}, "\n")
	res := ReplayData("mixed.jsonl", []byte(data+"\n"), ReplayOptions{Rules: []Rule{joinRule(t)}, Params: labParams})
	if len(res.Matches) != 1 || res.Matches[0].RequestID != "inside" {
		t.Errorf("matches %+v, want the one inside the app log's span", res.Matches)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "2 Decrypts by the task role fall outside the app log read (2026-11-24T10:00:00Z to 2026-11-24T10:01:00Z)") {
		t.Errorf("notes %q", res.Notes)
	}
}

// A Decrypt whose served line the log holds is vouched for wherever it falls, even in the log's
// last seconds, where a missing line could still be on its way: only the ones without a line
// there are left unjudged.
func TestJoinVouchesForServedDecryptsAtTheLogsEnd(t *testing.T) {
	data := strings.Join([]string{
		metricsLineAt(t10),
		decryptAt(t10.Add(58*time.Second), "served-at-the-end", "192.0.2.44"),
		servedAt(t10.Add(58*time.Second+30*time.Millisecond), "served-at-the-end"),
		decryptAt(t10.Add(59*time.Second), "unserved-at-the-end", "198.51.100.23"),
		metricsLineAt(t10.Add(time.Minute)),
	}, "\n")
	res := ReplayData("end.jsonl", []byte(data+"\n"), ReplayOptions{Rules: []Rule{joinRule(t)}, Params: labParams})
	if len(res.Matches) != 0 {
		t.Errorf("matches %+v, want none: one is served, the other not judged", res.Matches)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "1 Decrypt by the task role falls outside the app log read") {
		t.Errorf("notes %q, want the one unserved Decrypt near the end counted as not judged", res.Notes)
	}
}

// Only a joining rule's matches carry the request id; the others do not pay for it.
func TestOnlyTheJoinKeepsRequestIDs(t *testing.T) {
	volume, _ := Lookup("app-decrypt-volume")
	data := metricsLineAt(t10) + "\n" + decryptAt(t10.Add(time.Second), "req-1", "198.51.100.23") + "\n" + metricsLineAt(t10.Add(time.Minute)) + "\n"
	res := ReplayData("x.jsonl", []byte(data), ReplayOptions{Rules: []Rule{volume, joinRule(t)}, Params: labParams})
	if len(res.Matches) != 2 {
		t.Fatalf("matches %+v", res.Matches)
	}
	for _, m := range res.Matches {
		if want := map[int]string{0: "", 1: "req-1"}[m.Rule]; m.RequestID != want {
			t.Errorf("%s: request id %q, want %q", res.Rules[m.Rule].ID, m.RequestID, want)
		}
	}
}

// The join remembers request ids, not records: replaying ten times as many unmatched Decrypts
// (their matches spill to disk) holds no more memory while the matches are merged.
func TestJoinHoldsRequestIDsNotRecords(t *testing.T) {
	held := func(decrypts int) uint64 {
		dir := t.TempDir()
		var b bytes.Buffer
		b.WriteString(metricsLineAt(t10) + "\n")
		for i := range 1000 {
			b.WriteString(servedAt(t10.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("served-%06d", i)) + "\n")
		}
		b.WriteString(metricsLineAt(t10.Add(24*time.Hour)) + "\n")
		for i := range decrypts {
			b.WriteString(decryptAt(t10.Add(time.Duration(i)*100*time.Millisecond), fmt.Sprintf("copy-%08d", i), "198.51.100.23") + "\n")
		}
		path := filepath.Join(dir, "both.jsonl")
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		b = bytes.Buffer{}
		var peak uint64
		n := 0
		res := Replay([]string{path}, ReplayOptions{Rules: []Rule{joinRule(t)}, Params: labParams, Workers: 1, OnMatch: func(Match) {
			if n++; n == decrypts { // the merge's last match: every record read, every match spilled and read back
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = ms.HeapAlloc
			}
		}})
		if res.Counts()[0] != decrypts || len(res.Problems) > 0 {
			t.Fatalf("%d unmatched of %d, problems %v", res.Counts()[0], decrypts, res.Problems)
		}
		return peak
	}
	small, large := held(10_000), held(100_000)
	if large > small+4<<20 {
		t.Errorf("held %d MB replaying 100,000 unmatched Decrypts, %d MB for 10,000: the join keeps records", large>>20, small>>20)
	}
}
