package rules

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules/corpus"
)

// summarize renders a run's matches and counts, to compare runs.
func summarize(res *ReplayResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "records %d files %d problems %v shapes %v\n", res.Records, res.Files, res.Problems, res.Tally.ByShape)
	for _, m := range res.Matches {
		fmt.Fprintf(&b, "%s %s:%d %s %s %s %s %s %s\n", res.Rules[m.Rule].ID, filepath.Base(m.File), m.Position,
			m.EventTime.Format("2006-01-02T15:04:05.000"), m.EventID, m.EventName, m.ErrorCode, m.Principal, m.SourceIPAddress)
	}
	return b.String()
}

// TestStreamingAtEveryBoundary replays every fixture with buffers so small that tokens, escapes
// and records are cut at every place, and compares with a run on whole buffers: the values of a
// record must survive the refills that happen while it is read.
func TestStreamingAtEveryBoundary(t *testing.T) {
	var paths []string
	for _, dir := range []string{samplesDir, shapesDir} {
		names, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(names) == 0 {
			t.Fatalf("%s: %v", dir, err)
		}
		paths = append(paths, names...)
	}
	lab := compact(t, mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json"))
	escaped := strings.Replace(lab, `"Decrypt"`, `"Decr\u0079pt"`, 1)
	dir := writeFiles(t, map[string][]byte{
		"lines.jsonl":     []byte(lab + "\n" + escaped + "\n2020-11-16T22:25:40.123Z " + lab + "\n"),
		"lines.jsonl.gz":  gzipped(t, []byte(lab+"\n"+escaped+"\n")),
		"records.json.gz": gzipped(t, mustReadSample(t, "ebs-attach-encrypted-volume.json")),
	})
	paths = append(paths, dir)
	opt := ReplayOptions{Params: labParams, Workers: 1}
	want := summarize(Replay(paths, opt))
	if !strings.Contains(want, "app-kms-errors") || !strings.Contains(want, "kms-key-policy-change") {
		t.Fatalf("the reference run matched too little to compare:\n%s", want)
	}
	defer func(n int) { scanBufSize = n }(scanBufSize)
	for _, size := range []int{7, 16, 61, 200, 1021} {
		scanBufSize = size
		if got := summarize(Replay(paths, opt)); got != want {
			t.Errorf("with %d-byte buffers:\n%s\nwant:\n%s", size, got, want)
		}
	}
}

// TestMemoryDoesNotGrowWithTheFile replays a 48 MB {"Records":[...]} file, plain and gzip'd, and
// counts the bytes allocated: the old reader read every file whole, so it allocated more than
// the file; the streaming reader allocates its buffers and little per record.
func TestMemoryDoesNotGrowWithTheFile(t *testing.T) {
	rec := []byte(compact(t, mustReadSample(t, "kms-encrypt-iamuser.json"))) // no rule matches an Encrypt
	var doc bytes.Buffer
	doc.WriteString(`{"Records":[`)
	for doc.Len() < 48<<20 {
		doc.Write(rec)
		doc.WriteByte(',')
	}
	doc.Write(rec)
	doc.WriteString("]}")
	dir := writeFiles(t, map[string][]byte{"big.json": doc.Bytes(), "big.json.gz": gzipped(t, doc.Bytes())})
	records := bytes.Count(doc.Bytes(), []byte(`"eventVersion"`))
	for _, name := range []string{"big.json", "big.json.gz"} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res := Replay([]string{filepath.Join(dir, name)}, ReplayOptions{Params: labParams, Workers: 1})
		runtime.ReadMemStats(&after)
		if res.Records != records || len(res.Problems) > 0 {
			t.Fatalf("%s: %d records of %d, problems %v", name, res.Records, records, res.Problems)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("%s: replaying %d MB allocated %d MB; want under 8 MB whatever the file's size", name, doc.Len()>>20, alloc>>20)
		}
	}
}

// TestSpilledMatchesMergeInOrder lowers the spill threshold so that the matches of the benchmark
// corpus go through many runs on disk, and compares with a run that keeps them in memory.
func TestSpilledMatchesMergeInOrder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the runs go, so that none is left behind unseen
	dir := t.TempDir()
	if _, err := corpus.Write(dir, samplesDir, corpus.Options{Files: 6, RecordsPerFile: 700}); err != nil {
		t.Fatal(err)
	}
	inMemory := Replay([]string{dir}, ReplayOptions{Params: labParams})
	spilled := Replay([]string{dir}, ReplayOptions{Params: labParams, spillAt: 4 << 10})
	if len(inMemory.Matches) < 1000 {
		t.Fatalf("only %d matches: too few to spill", len(inMemory.Matches))
	}
	if got, want := summarize(spilled), summarize(inMemory); got != want {
		t.Errorf("spilled run differs from the in-memory one")
	}
	if !slices.IsSortedFunc(spilled.Matches, func(a, b Match) int { return a.EventTime.Compare(b.EventTime) }) {
		t.Error("spilled matches are out of time order")
	}
	left, err := filepath.Glob(filepath.Join(tmp, "kmswatch-replay-*.run"))
	if err != nil || len(left) > 0 {
		t.Errorf("temporary runs left behind: %v %v", left, err)
	}
}

// TestLongFirstLine reads a JSON-lines file whose first record is longer than the sniff: it is
// read as a document, and the lines after it still as lines, numbered as such.
func TestLongFirstLine(t *testing.T) {
	lab := compact(t, mustReadSample(t, "lab-decrypt-incorrectkey-taskrole.json"))
	long := strings.Replace(lab, `"userAgent":`, `"padding":"`+strings.Repeat("x", sniffSize)+`","userAgent":`, 1)
	dir := writeFiles(t, map[string][]byte{"long.jsonl": []byte(long + "\n" + lab + "\nnot json\n2020-11-16T22:25:40.123Z " + lab + "\n")})
	res := Replay([]string{dir}, ReplayOptions{Params: labParams})
	if len(res.Problems) != 1 || res.Problems[0].Line != 3 || !strings.Contains(res.Problems[0].Error(), "not a JSON record") {
		t.Fatalf("problems = %v, want line 3 alone reported", res.Problems)
	}
	if res.Records != 3 || len(res.Matches) != 3 || res.Matches[2].Position != 4 {
		t.Errorf("records %d, matches %+v", res.Records, res.Matches)
	}
}

// TestValuesSurviveRefills scans one record through 64-byte buffers, its eventName in the first
// window and many short members after it, so that every refill reuses a buffer: the value must
// still read right when the record ends, and a record after it must not see the first's.
func TestValuesSurviveRefills(t *testing.T) {
	defer func(n int) { scanBufSize = n }(scanBufSize)
	scanBufSize = 64
	rec := `{"eventName":"Decrypt"` + strings.Repeat(`,"a":1`, 100) + `,"eventSource":"kms.amazonaws.com"}`
	var s scanner
	s.idx = recordFields
	s.readFrom(strings.NewReader(rec + " " + strings.Replace(rec, "Decrypt", "Encrypt", 1)))
	var f fields
	for _, want := range []string{"Decrypt", "Encrypt"} {
		s.pin()
		f.reset(len(recordFields.paths))
		if s.atEnd() {
			t.Fatal("input ended early")
		}
		if err := s.object(recordFields.root, &f); err != nil {
			t.Fatal(err)
		}
		if got := f.str(slotEventName); got != want || f.str(slotEventSource) != "kms.amazonaws.com" {
			t.Errorf("eventName %q, eventSource %q after %d refills; want %s", got, f.str(slotEventSource), s.refills, want)
		}
	}
}
