// Package corpus writes a synthetic CloudTrail corpus for replay benchmarks: gzip'd
// {"Records":[...]} files like those CloudTrail delivers to S3 (or plain ones, for the large-file
// memory measurement), with records drawn from the AWS-published samples and given fresh
// eventIDs and increasing eventTimes. Files are written as a stream, whatever their size.
package corpus

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Options size the corpus. The zero value of a field takes the default.
type Options struct {
	Files          int           // default 100
	RecordsPerFile int           // default 2000
	Start          time.Time     // first eventTime; default 2026-11-24T00:00:00Z
	Step           time.Duration // eventTime between records; default 1s
	Seed           uint64        // default 1
	Plain          bool          // write .json files, not gzip'd .json.gz
}

func (o Options) withDefaults() Options {
	if o.Files == 0 {
		o.Files = 100
	}
	if o.RecordsPerFile == 0 {
		o.RecordsPerFile = 2000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	}
	if o.Step == 0 {
		o.Step = time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Stats describe what was written.
type Stats struct {
	Files, Records     int
	JSONBytes, GzBytes int64 // GzBytes: the files' size on disk (plain ones too)
}

const (
	idMark   = "@@EVENT_ID@@"
	timeMark = "@@EVENT_TIME@@"
)

// Write generates the corpus into dir from the sample records in samplesDir.
func Write(dir, samplesDir string, opt Options) (Stats, error) {
	opt = opt.withDefaults()
	templates, err := loadTemplates(samplesDir)
	if err != nil {
		return Stats{}, err
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)) //nolint:gosec // a seeded, repeatable corpus, not secrets
	var st Stats
	n := 0
	for f := range opt.Files {
		// The name CloudTrail gives its files: account_CloudTrail_region_time_unique.json.gz
		name := fmt.Sprintf("111122223333_CloudTrail_us-east-1_20261124T0000Z_%04d.json", f)
		if !opt.Plain {
			name += ".gz"
		}
		path := filepath.Join(dir, name)
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return st, err
		}
		counted := &countingWriter{w: out}
		buf := bufio.NewWriterSize(counted, 1<<20)
		var zw *gzip.Writer
		var w io.Writer = buf
		if !opt.Plain {
			zw = gzip.NewWriter(buf)
			w = zw
		}
		plain := &countingWriter{w: w}
		_, _ = io.WriteString(plain, `{"Records":[`) // errors surface at Flush and Close below
		for i := range opt.RecordsPerFile {
			if i > 0 {
				_, _ = plain.Write([]byte{','})
			}
			tmpl := templates[rng.IntN(len(templates))]
			when := opt.Start.Add(time.Duration(n) * opt.Step).UTC().Format(time.RFC3339)
			_, _ = plain.Write(tmpl.fill(uuid(rng), when))
			n++
		}
		_, _ = io.WriteString(plain, "]}")
		if zw != nil {
			err = zw.Close()
		}
		err = errors.Join(err, buf.Flush(), plain.err, out.Close())
		if err != nil {
			return st, fmt.Errorf("%s: %w", path, err)
		}
		st.Files++
		st.Records += opt.RecordsPerFile
		st.JSONBytes += plain.n
		st.GzBytes += counted.n
	}
	return st, nil
}

// countingWriter counts what passes and keeps the first error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// template is one sample record, compacted, with marks where eventID and eventTime go.
type template struct{ parts [][]byte } // text, id, text, time, text: split on the marks

func (t template) fill(id, when string) []byte {
	var b []byte
	for _, p := range t.parts {
		switch string(p) {
		case idMark:
			b = append(b, id...)
		case timeMark:
			b = append(b, when...)
		default:
			b = append(b, p...)
		}
	}
	return b
}

func loadTemplates(samplesDir string) ([]template, error) {
	names, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []template
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var file struct {
			Records []map[string]any `json:"Records"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if file.Records == nil {
			var rec map[string]any
			if err := json.Unmarshal(data, &rec); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			file.Records = []map[string]any{rec}
		}
		for _, rec := range file.Records {
			rec["eventID"], rec["eventTime"] = idMark, timeMark
			compact, err := json.Marshal(rec)
			if err != nil {
				return nil, err
			}
			out = append(out, splitMarks(compact))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no sample records (*.json)", samplesDir)
	}
	return out, nil
}

func splitMarks(b []byte) template {
	s := string(b)
	var parts [][]byte
	for len(s) > 0 {
		i := strings.Index(s, "@@")
		if i < 0 {
			parts = append(parts, []byte(s))
			break
		}
		var mark string
		switch {
		case strings.HasPrefix(s[i:], idMark):
			mark = idMark
		case strings.HasPrefix(s[i:], timeMark):
			mark = timeMark
		default:
			parts = append(parts, []byte(s[:i+2]))
			s = s[i+2:]
			continue
		}
		parts = append(parts, []byte(s[:i]), []byte(mark))
		s = s[i+len(mark):]
	}
	return template{parts: parts}
}

// uuid returns a random version-4 UUID, as CloudTrail eventIDs are.
func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
