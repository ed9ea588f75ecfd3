// Package logtest collects the JSON log lines a service writes from many
// goroutines and finds its security events ({"event": ...}) among them.
package logtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// Buffer is an io.Writer for slog.NewJSONHandler that is safe for
// concurrent use. The zero value is ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Events returns the decoded log lines whose "event" field is event, oldest
// first. A line that is not a JSON object fails the test: every line counts.
func (b *Buffer) Events(tb testing.TB, event string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line is not a JSON object: %q", line)
			return nil
		}
		if m["event"] == event {
			out = append(out, m)
		}
	}
	return out
}
