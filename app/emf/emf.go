package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmswatch/kmswatch/app"
)

// Namespace is the CloudWatch namespace of the service's metrics.
const Namespace = "kmswatch/app"

// DimensionName is the one dimension every metric carries.
const DimensionName = "Service"

// Interval is how long one line's counts cover: CloudWatch's standard resolution.
const Interval = time.Minute

// The metric names. Failures are FailedMetricPrefix + the reason.
const (
	EncryptsStored     = "EncryptsStored"
	DecryptsServed     = "DecryptsServed"
	FailedMetricPrefix = "DecryptsFailed_"
)

// Options configure a Recorder; zero values take the defaults.
type Options struct {
	Service  string           // the Service dimension's value; required
	Interval time.Duration    // default Interval; tests shorten it
	Now      func() time.Time // default time.Now
}

// Recorder counts the service's outcomes and writes them as EMF lines. It
// implements app.Meter: counting is one atomic add, safe from any goroutine.
type Recorder struct {
	out      io.Writer
	service  string
	interval time.Duration
	now      func() time.Time
	metadata []byte // the _aws member after its Timestamp: the same on every line

	encrypts atomic.Uint64
	served   atomic.Uint64
	failed   []atomic.Uint64 // by failureIndex

	// Lines are written by run, then once by Close after run has returned:
	// never two at a time.
	mu      sync.Mutex // guards running and closed
	running bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

var _ app.Meter = (*Recorder)(nil)

// failureIndex maps each app.DecryptFailure to its counter.
var failureIndex = func() map[app.DecryptFailure]int {
	m := make(map[app.DecryptFailure]int, len(app.DecryptFailures))
	for i, r := range app.DecryptFailures {
		m[r] = i
	}
	return m
}()

// New returns a Recorder that writes to out, which must take each line in
// one Write (the service's stdout, shared with its log).
func New(out io.Writer, opts Options) (*Recorder, error) {
	if err := ValidateService(opts.Service); err != nil {
		return nil, err
	}
	if opts.Interval <= 0 {
		opts.Interval = Interval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Recorder{out: out, service: opts.Service, interval: opts.Interval, now: opts.Now,
		failed: make([]atomic.Uint64, len(app.DecryptFailures)),
		stop:   make(chan struct{}), done: make(chan struct{})}
	r.metadata = appendMetadata(nil)
	return r, nil
}

// ValidateService checks a Service dimension value: 1 to 255 characters of
// letters, digits and . _ - : /, which CloudWatch takes as a dimension value
// (ASCII, no whitespace or control characters, 1-1024) and in an alarm's
// dimensions (1-255).
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
func ValidateService(s string) error {
	if len(s) < 1 || len(s) > 255 {
		return fmt.Errorf("must be 1 to 255 characters, got %d", len(s))
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == ':' || c == '/'
		if !ok {
			return fmt.Errorf("%q has a character other than letters, digits and . _ - : /", s)
		}
	}
	return nil
}

// EncryptStored counts an encrypt whose record was committed.
func (r *Recorder) EncryptStored() { r.encrypts.Add(1) }

// DecryptServed counts a decrypt that KMS answered with the plaintext.
func (r *Recorder) DecryptServed() { r.served.Add(1) }

// DecryptFailed counts a failed decrypt under its reason. A reason outside
// app.DecryptFailures is a fault of ours, counted as internal.
func (r *Recorder) DecryptFailed(reason app.DecryptFailure) {
	i, ok := failureIndex[reason]
	if !ok {
		i = failureIndex[app.ReasonInternal]
	}
	r.failed[i].Add(1)
}

// Start writes a line at the end of every interval until Close.
func (r *Recorder) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running || r.closed {
		return
	}
	r.running = true
	go r.run()
}

func (r *Recorder) run() {
	defer close(r.done)
	for {
		now := r.now()
		end := now.Truncate(r.interval).Add(r.interval)
		timer := time.NewTimer(end.Sub(now))
		select {
		case <-timer.C:
			// The interval that just ended. A late timer adds the moments
			// after its end to it: counts move, none is lost or doubled.
			_ = r.flush(end.Add(-r.interval)) // a failed write keeps its counts for the next line
		case <-r.stop:
			timer.Stop()
			return
		}
	}
}

// Close stops the interval lines and writes the counts of the interval in
// progress, stamped with its start. Call it once the HTTP server has
// drained, so that every answered request is counted; counts after Close are
// never written.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	running := r.running
	r.mu.Unlock()
	if running {
		close(r.stop)
		<-r.done
	}
	return r.flush(r.now().Truncate(r.interval))
}

// flush takes every count and writes them as one line stamped start. Each
// atomic swap hands a count to exactly one line; if the write fails the
// counts go back, for the next line.
func (r *Recorder) flush(start time.Time) error {
	c := counts{failed: make([]uint64, len(r.failed))}
	c.encrypts = r.encrypts.Swap(0)
	c.served = r.served.Swap(0)
	for i := range r.failed {
		c.failed[i] = r.failed[i].Swap(0)
	}
	if _, err := r.out.Write(r.appendLine(nil, r.now(), start, &c)); err != nil {
		r.encrypts.Add(c.encrypts)
		r.served.Add(c.served)
		for i, n := range c.failed {
			r.failed[i].Add(n)
		}
		return fmt.Errorf("emf: writing the metrics line: %w", err)
	}
	return nil
}

type counts struct {
	encrypts, served uint64
	failed           []uint64
}

// appendLine encodes one EMF document: one JSON object on one line.
func (r *Recorder) appendLine(b []byte, now, start time.Time, c *counts) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONString(b, now.Format(time.RFC3339Nano)) // as slog's JSON lines have it
	b = append(b, `,"level":"INFO","msg":"metrics","event":"metrics",`...)
	b = appendJSONString(b, DimensionName)
	b = append(b, ':')
	b = appendJSONString(b, r.service)
	b = appendCount(b, EncryptsStored, c.encrypts)
	b = appendCount(b, DecryptsServed, c.served)
	for i, reason := range app.DecryptFailures {
		b = appendCount(b, FailedMetricPrefix+string(reason), c.failed[i])
	}
	b = append(b, `,"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, start.UnixMilli(), 10)
	b = append(b, r.metadata...)
	return append(b, "}\n"...)
}

func appendCount(b []byte, name string, n uint64) []byte {
	b = append(b, ',')
	b = appendJSONString(b, name)
	b = append(b, ':')
	return strconv.AppendUint(b, n, 10)
}

// appendJSONString appends s as a JSON string. json.Marshal of a string
// cannot fail.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// metricDirective is the specification's MetricDirective object.
type metricDirective struct {
	Namespace  string             `json:"Namespace"`
	Dimensions [][]string         `json:"Dimensions"`
	Metrics    []metricDefinition `json:"Metrics"`
}

// metricDefinition is the specification's MetricDefinition object.
type metricDefinition struct {
	Name              string `json:"Name"`
	Unit              string `json:"Unit"`
	StorageResolution int    `json:"StorageResolution"`
}

// MetricNames lists every metric a line carries, in the line's order.
func MetricNames() []string {
	names := []string{EncryptsStored, DecryptsServed}
	for _, reason := range app.DecryptFailures {
		names = append(names, FailedMetricPrefix+string(reason))
	}
	return names
}

// appendMetadata appends what follows "Timestamp":N in the _aws member.
func appendMetadata(b []byte) []byte {
	d := metricDirective{Namespace: Namespace, Dimensions: [][]string{{DimensionName}}}
	for _, n := range MetricNames() {
		d.Metrics = append(d.Metrics, metricDefinition{Name: n, Unit: "Count", StorageResolution: 60})
	}
	directives, _ := json.Marshal([]metricDirective{d}) // strings and ints only: cannot fail
	b = append(b, `,"CloudWatchMetrics":`...)
	b = append(b, directives...)
	return append(b, '}')
}
