package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// trailWriter appends records as JSON lines through a buffer, flushed every interval and on Close,
// so the request path only copies bytes under a short lock.
type trailWriter struct {
	mu     sync.Mutex
	file   *os.File
	buf    *bufio.Writer
	err    error // first write error; later writes are dropped
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

func openTrail(path string, interval time.Duration) (*trailWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--trail-file: %w", err)
	}
	t := &trailWriter{file: f, buf: bufio.NewWriterSize(f, 256<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go t.flushEvery(interval)
	return t, nil
}

// Write appends one record and a newline.
func (t *trailWriter) Write(rec json.RawMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil || t.closed {
		return
	}
	if _, err := t.buf.Write(rec); err != nil {
		t.err = err
		return
	}
	if err := t.buf.WriteByte('\n'); err != nil {
		t.err = err
	}
}

func (t *trailWriter) flushEvery(interval time.Duration) {
	defer close(t.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.mu.Lock()
			if t.err == nil {
				t.err = t.buf.Flush()
			}
			t.mu.Unlock()
		case <-t.stop:
			return
		}
	}
}

// Close flushes what is buffered and closes the file; it reports the first write error. Safe to call twice.
func (t *trailWriter) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return t.err
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = t.buf.Flush()
	}
	if err := t.file.Close(); t.err == nil && err != nil {
		t.err = err
	}
	if t.err != nil {
		return fmt.Errorf("--trail-file %s: %w", t.file.Name(), t.err)
	}
	return nil
}
