package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProgressCountsWhatWasRead(t *testing.T) {
	lines := []string{appLine(t0), quietRecord(t0), appLine(t0.Add(time.Minute))}
	data := []byte(strings.Join(lines, "\n"))
	dir := writeFiles(t, map[string][]byte{"a.jsonl": data, "b.json.gz": gzipped(t, data), "c/d.jsonl": data})
	var p Progress
	res := Replay([]string{dir}, ReplayOptions{Progress: &p})
	var size int64
	for _, name := range []string{"a.jsonl", "b.json.gz", "c/d.jsonl"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		size += info.Size()
	}
	if p.Files.Load() != 3 || p.FilesDone.Load() != 3 || p.Records.Load() != int64(res.Records) || res.Records != 9 {
		t.Errorf("files %d/%d, records %d (replay judged %d), want 3/3 and 9", p.FilesDone.Load(), p.Files.Load(), p.Records.Load(), res.Records)
	}
	if p.Bytes.Load() != size || p.BytesRead.Load() != size {
		t.Errorf("bytes %d of %d read, want all %d as stored", p.BytesRead.Load(), p.Bytes.Load(), size)
	}
}

// Records are counted in batches as they are judged, so that a display sees a large file
// advance before its end: here a pipe whose writer has not closed it yet.
func TestProgressCountsRecordsInsideAFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "live.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var p Progress
	done := make(chan *ReplayResult)
	go func() { done <- Replay([]string{fifo}, ReplayOptions{Progress: &p}) }()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 3*recordsBatch + 5
	for i := range n {
		if _, err := fmt.Fprintln(w, quietRecord(t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Records.Load() < 2*recordsBatch && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := p.Records.Load(); got < 2*recordsBatch || p.FilesDone.Load() != 0 {
		t.Errorf("while the file is open: %d records counted, %d files done; want at least %d and none", got, p.FilesDone.Load(), 2*recordsBatch)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.Records != n || p.Records.Load() != int64(n) || p.FilesDone.Load() != 1 {
		t.Errorf("at the end: %d records counted, %d judged, %d files done; want %d, %d, 1", p.Records.Load(), res.Records, p.FilesDone.Load(), n, n)
	}
}
