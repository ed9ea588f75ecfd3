package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// The progress line of a long replay: files and records done, the rate, the time left, redrawn
// in place on stderr. Only on a terminal: piped or redirected stderr, and --json runs, get none,
// so that scripts and logs see only what they always saw.

const progressEvery = 250 * time.Millisecond

// progressLine redraws one line with a carriage return; nil draws nothing.
type progressLine struct {
	w       io.Writer
	command string
	counts  *rules.Progress
	now     func() time.Time
	start   time.Time
	drawn   int // width of the line on screen, to blank it
	mu      sync.Mutex
	done    chan struct{}
	exited  chan struct{}
}

// startProgress draws progress for the replay opt is about to run, when wanted and stderr is
// a terminal, and sets opt.Progress for it to read.
func startProgress(stderr io.Writer, command string, wanted bool, opt *rules.ReplayOptions) *progressLine {
	if !wanted || !isTerminal(stderr) {
		return nil
	}
	l := newProgressLine(stderr, command, time.Now)
	opt.Progress = l.counts
	l.run(progressEvery)
	return l
}

func newProgressLine(w io.Writer, command string, now func() time.Time) *progressLine {
	return &progressLine{w: w, command: command, counts: &rules.Progress{}, now: now, start: now()}
}

// isTerminal is true for a file descriptor that is a terminal (not a pipe, a file or /dev/null).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) //nolint:gosec // a file descriptor fits an int
}

// run draws at once and then every interval until stop.
func (l *progressLine) run(interval time.Duration) {
	l.done, l.exited = make(chan struct{}), make(chan struct{})
	l.draw()
	go func() {
		defer close(l.exited)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-tick.C:
				l.draw()
			}
		}
	}()
}

// draw writes the current line over the last.
func (l *progressLine) draw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := progressText(snapshotOf(l.counts), l.now().Sub(l.start))
	line := fmt.Sprintf("kmswatch %s: %s", l.command, text)
	pad := max(l.drawn-len(line), 0)
	fmt.Fprintf(l.w, "\r%s%s", line, strings.Repeat(" ", pad))
	l.drawn = len(line)
}

// stop ends the redrawing and blanks the line, so that what follows starts on a clean line.
func (l *progressLine) stop() {
	if l == nil {
		return
	}
	if l.done != nil {
		close(l.done)
		<-l.exited
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn > 0 {
		fmt.Fprintf(l.w, "\r%s\r", strings.Repeat(" ", l.drawn))
		l.drawn = 0
	}
}

// progressSnapshot is one reading of the counters.
type progressSnapshot struct {
	files, filesDone, bytes, bytesRead, records int64
}

func snapshotOf(p *rules.Progress) progressSnapshot {
	return progressSnapshot{
		files: p.Files.Load(), filesDone: p.FilesDone.Load(), bytes: p.Bytes.Load(),
		bytesRead: p.BytesRead.Load(), records: p.Records.Load(),
	}
}

// progressText says how far a replay is after elapsed: "12/100 files, 24,576 records
// (81,920/s), about 3s left"; before the inputs are walked, that it is looking for them. Time left comes from the bytes read, which grow inside a
// large file too, at the rate so far.
func progressText(s progressSnapshot, elapsed time.Duration) string {
	if s.files == 0 && s.records == 0 {
		return "looking for log files"
	}
	text := fmt.Sprintf("%s/%s files, %s records", number(s.filesDone), number(s.files), number(s.records))
	secs := elapsed.Seconds()
	if secs > 0 && s.records > 0 {
		text += fmt.Sprintf(" (%s/s)", number(int64(float64(s.records)/secs)))
	}
	switch {
	case s.files > 0 && s.filesDone == s.files:
		text += ", all read: evaluating"
	case s.bytesRead > 0 && s.bytes > s.bytesRead && secs > 0:
		left := time.Duration(float64(elapsed) * float64(s.bytes-s.bytesRead) / float64(s.bytesRead))
		text += ", about " + roughDuration(left) + " left"
	default:
		text += ", time left not known yet"
	}
	return text
}

// roughDuration rounds a time left to what a person reads at a glance: "3s", "1m20s", "2h5m".
func roughDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// number writes a count with thousands separators.
func number[T int | int64](n T) string {
	s := fmt.Sprint(n)
	if len(s) <= 3 || (n < 0 && len(s) <= 4) {
		return s
	}
	var b strings.Builder
	start := 0
	if n < 0 {
		b.WriteByte('-')
		start = 1
	}
	digits := s[start:]
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
