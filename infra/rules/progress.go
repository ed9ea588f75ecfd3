package rules

import (
	"io"
	"os"
	"sync/atomic"
)

// Progress counts a replay's work while it runs, for a display that polls it from another
// goroutine (kmswatch's progress line). Replay fills it when ReplayOptions.Progress points to one.
type Progress struct {
	Files     atomic.Int64 // files to read, known once the inputs are walked
	Bytes     atomic.Int64 // their size as stored: a gzip'd file counts compressed
	FilesDone atomic.Int64
	BytesRead atomic.Int64 // of Bytes, read so far
	Records   atomic.Int64 // records judged so far
}

// recordsBatch is how many records a worker counts before it adds them to Records: often
// enough for a display redrawn a few times a second, rarely enough to cost nothing.
const recordsBatch = 1024

// begin sets the totals.
func (p *Progress) begin(files []inputFile) {
	if p == nil {
		return
	}
	var size int64
	for _, f := range files {
		if f.inMemory {
			size += int64(len(f.data))
		} else if info, err := os.Stat(f.path); err == nil {
			size += info.Size()
		}
	}
	p.Files.Store(int64(len(files)))
	p.Bytes.Store(size)
}

// fileDone counts a file read, and its records not yet counted.
func (fr *fileReader) fileDone() {
	if p := fr.progress; p != nil {
		p.Records.Add(int64(fr.unreported))
		p.FilesDone.Add(1)
		fr.unreported = 0
	}
}

// recordJudged counts a record, in batches.
func (fr *fileReader) recordJudged() {
	if fr.progress == nil {
		return
	}
	if fr.unreported++; fr.unreported == recordsBatch {
		fr.progress.Records.Add(recordsBatch)
		fr.unreported = 0
	}
}

// countRead counts the bytes read from a file, when progress is kept.
func (fr *fileReader) countRead(r io.Reader) io.Reader {
	if fr.progress == nil {
		return r
	}
	return &countingReader{r: r, n: &fr.progress.BytesRead}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
