package logtest_test

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/kmswatch/kmswatch/app/internal/logtest"
)

func TestBuffer_EventsFromConcurrentLoggers(t *testing.T) {
	var logs logtest.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				logger.Warn("decrypt failed", "event", "decrypt_failed", "n", fmt.Sprintf("%d-%d", w, i))
				logger.Info("listening", "addr", "127.0.0.1:0")
			}
		}()
	}
	wg.Wait()
	events := logs.Events(t, "decrypt_failed")
	if len(events) != writers*each {
		t.Fatalf("%d decrypt_failed events, want %d (lines lost or interleaved)", len(events), writers*each)
	}
	if events[0]["msg"] != "decrypt failed" || events[0]["level"] != "WARN" {
		t.Errorf("first event = %v", events[0])
	}
	if n := len(logs.Events(t, "encrypt_failed")); n != 0 {
		t.Errorf("%d encrypt_failed events, want 0", n)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func TestBuffer_EventsFailsOnALineThatIsNotJSON(t *testing.T) {
	var logs logtest.Buffer
	fmt.Fprintln(&logs, `{"event":"decrypt_failed"}`)
	fmt.Fprintln(&logs, `panic: something printed to the log stream`)
	rec := &fatalRecorder{TB: t}
	if events := logs.Events(rec, "decrypt_failed"); events != nil || rec.fatal == "" {
		t.Fatalf("Events = %v, fatal %q; want the test failed on the non-JSON line", events, rec.fatal)
	}
}
