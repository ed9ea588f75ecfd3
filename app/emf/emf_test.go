package emf_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/emf"
)

// lineBuffer collects whole lines written from any goroutine.
type lineBuffer struct {
	mu    sync.Mutex
	lines [][]byte
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, bytes.Clone(p))
	return len(p), nil
}

func (b *lineBuffer) all() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.lines...)
}

// fixedClock returns a clock that reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newRecorder(t *testing.T, out *lineBuffer, opts emf.Options) *emf.Recorder {
	t.Helper()
	if opts.Service == "" {
		opts.Service = "kmswatch-test"
	}
	r, err := emf.New(out, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// metricsOf parses every line as EMF and sums each metric, failing the test
// on a line the specification rejects.
func metricsOf(t *testing.T, lines [][]byte) (sums map[string]float64, data []emfDatum) {
	t.Helper()
	sums = map[string]float64{}
	for _, line := range lines {
		d, err := parseEMF(line)
		if err != nil {
			t.Fatalf("line breaks the EMF specification: %v\n%s", err, line)
		}
		for _, datum := range d {
			sums[datum.Name] += datum.Value
		}
		data = append(data, d...)
	}
	return sums, data
}

// TestLine_IsEMF: the line is a valid EMF document with the documented
// namespace, dimension, metrics, units, resolution and a millisecond
// timestamp at the start of the minute counted.
func TestLine_IsEMF(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 42, 500e6, time.UTC)
	var out lineBuffer
	r := newRecorder(t, &out, emf.Options{Service: "kmswatch-dev", Now: fixedClock(now)})
	for range 3 {
		r.DecryptServed()
	}
	r.EncryptStored()
	r.DecryptFailed(app.ReasonKMSRefused)
	r.DecryptFailed(app.ReasonKMSRefused)
	r.DecryptFailed(app.ReasonClientCanceled)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lines := out.all()
	if len(lines) != 1 || !bytes.HasSuffix(lines[0], []byte("}\n")) {
		t.Fatalf("Close wrote %q, want one JSON line", lines)
	}
	_, data := metricsOf(t, lines)
	want := map[string]float64{
		"EncryptsStored": 1, "DecryptsServed": 3, "DecryptsFailed_kms_refused": 2, "DecryptsFailed_unknown_name": 0,
		"DecryptsFailed_invalid_request": 0, "DecryptsFailed_kms_unavailable": 0, "DecryptsFailed_store_unavailable": 0,
		"DecryptsFailed_internal": 0, "DecryptsFailed_client_canceled": 1,
	}
	if len(data) != len(want) {
		t.Fatalf("%d metrics, want %d: %+v", len(data), len(want), data)
	}
	minute := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).UnixMilli()
	for _, d := range data {
		v, ok := want[d.Name]
		if !ok || d.Value != v {
			t.Errorf("%s = %v, want %v", d.Name, d.Value, v)
		}
		if d.Namespace != "kmswatch/app" || len(d.Dimensions) != 1 || d.Dimensions["Service"] != "kmswatch-dev" ||
			d.Unit != "Count" || d.StorageResolution != 60 || d.TimestampMillis != minute {
			t.Errorf("%s: %+v; want namespace kmswatch/app, Service=kmswatch-dev, Count, 60, timestamp %d", d.Name, d, minute)
		}
	}
	var fields struct{ Time, Level, Msg, Event string }
	if err := json.Unmarshal(lines[0], &fields); err != nil {
		t.Fatal(err)
	}
	if fields.Time != "2026-11-24T10:00:42.5Z" || fields.Level != "INFO" || fields.Msg != "metrics" || fields.Event != "metrics" {
		t.Errorf("log fields = %+v, want them as the service's slog lines have them", fields)
	}
	if names := emf.MetricNames(); len(names) != len(want) {
		t.Errorf("MetricNames() = %v", names)
	}
}

// TestInterval_LinesStampedWithTheirInterval: Start writes one line per
// interval, each stamped with the start of an interval on the clock's grid,
// later lines later, zero counts included.
func TestInterval_LinesStampedWithTheirInterval(t *testing.T) {
	const interval = 50 * time.Millisecond
	var out lineBuffer
	r := newRecorder(t, &out, emf.Options{Interval: interval})
	r.Start()
	time.Sleep(10 * interval)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, data := metricsOf(t, out.all())
	var stamps []int64
	for _, d := range data {
		if d.Name == "DecryptsServed" {
			stamps = append(stamps, d.TimestampMillis)
		}
	}
	// 10 intervals of sleep: at least 5 lines even if a loaded machine's
	// timers fire late.
	if len(stamps) < 5 {
		t.Fatalf("%d lines in 10 intervals: %v", len(stamps), stamps)
	}
	for i, ms := range stamps {
		if ms%interval.Milliseconds() != 0 {
			t.Errorf("line %d stamped %d ms: not the start of an interval", i, ms)
		}
		if i > 0 && ms < stamps[i-1] {
			t.Errorf("line %d stamped %d, before line %d's %d", i, ms, i-1, stamps[i-1])
		}
	}
}

// TestCounting_NothingLostOrDoubledAcrossIntervals: goroutines count while
// lines are written every millisecond, until many boundaries have passed; the
// lines add up to exactly what was counted, however the counts fell on either
// side of each boundary. Run with -race.
func TestCounting_NothingLostOrDoubledAcrossIntervals(t *testing.T) {
	const workers, boundaries = 8, 20
	var out lineBuffer
	r := newRecorder(t, &out, emf.Options{Interval: time.Millisecond})
	r.Start()
	stop := make(chan struct{})
	counted := make(chan int, workers)
	for w := range workers {
		go func() {
			n := 0
			for ; ; n++ {
				select {
				case <-stop:
					counted <- n
					return
				default:
				}
				r.DecryptServed()
				r.EncryptStored()
				r.DecryptFailed(app.DecryptFailures[(w+n)%len(app.DecryptFailures)])
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(out.all()) < boundaries; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d lines in 10s", len(out.all()))
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	total := 0
	for range workers {
		total += <-counted
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sums, _ := metricsOf(t, out.all())
	if sums["DecryptsServed"] != float64(total) || sums["EncryptsStored"] != float64(total) {
		t.Errorf("lines sum to %v served and %v stored, want %d each", sums["DecryptsServed"], sums["EncryptsStored"], total)
	}
	var failed float64
	for _, reason := range app.DecryptFailures {
		failed += sums["DecryptsFailed_"+string(reason)]
	}
	if failed != float64(total) {
		t.Errorf("failures sum to %v, want %d", failed, total)
	}
	t.Logf("%d counts of each kind over %d lines", total, len(out.all()))
}

// TestClose_WritesOnceAndLast: Close writes the interval in progress even
// without Start, once; counts after Close are never written.
func TestClose_WritesOnceAndLast(t *testing.T) {
	var out lineBuffer
	r := newRecorder(t, &out, emf.Options{})
	r.DecryptServed()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.DecryptServed()
	r.Start()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sums, _ := metricsOf(t, out.all())
	if n := len(out.all()); n != 1 || sums["DecryptsServed"] != 1 {
		t.Fatalf("%d lines, DecryptsServed %v; want one line with the one count before Close", n, sums["DecryptsServed"])
	}
}

// failingWriter fails its first n writes.
type failingWriter struct {
	lineBuffer
	fails int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.fails > 0 {
		w.fails--
		return 0, errors.New("stdout closed")
	}
	return w.lineBuffer.Write(p)
}

// TestFailedWrite_KeepsItsCounts: counts of a line that could not be written
// go into the next one.
func TestFailedWrite_KeepsItsCounts(t *testing.T) {
	w := &failingWriter{fails: 1}
	const interval = 10 * time.Millisecond
	r, err := emf.New(w, emf.Options{Service: "s", Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	r.DecryptServed()
	r.Start()
	time.Sleep(3 * interval)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sums, _ := metricsOf(t, w.all())
	if w.fails != 0 || sums["DecryptsServed"] != 1 {
		t.Fatalf("after one failed write, lines sum to %v served, want 1", sums["DecryptsServed"])
	}
}

// TestDecryptFailed_UnknownReasonIsInternal: a reason the domain does not
// list is a fault of ours, not dropped.
func TestDecryptFailed_UnknownReasonIsInternal(t *testing.T) {
	var out lineBuffer
	r := newRecorder(t, &out, emf.Options{})
	r.DecryptFailed("not_a_reason")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if sums, _ := metricsOf(t, out.all()); sums["DecryptsFailed_internal"] != 1 {
		t.Fatalf("sums = %v, want the unknown reason under internal", sums)
	}
}

func TestValidateService(t *testing.T) {
	for _, ok := range []string{"kmswatch-app", "kmswatch-dev", "team/app:prod_1.2"} {
		if err := emf.ValidateService(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "kms watch", "kmswatch\n", "kmswätch", strings.Repeat("a", 256), `a"b`} {
		if err := emf.ValidateService(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
		if _, err := emf.New(&lineBuffer{}, emf.Options{Service: bad}); err == nil {
			t.Errorf("New accepted Service %q", bad)
		}
	}
}
