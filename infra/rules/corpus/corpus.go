// Package corpus writes a synthetic CloudTrail corpus for replay benchmarks and the Athena check:
// gzip'd {"Records":[...]} files like those CloudTrail delivers to S3 (or plain ones, for the
// large-file memory measurement), with records drawn from the AWS-published samples (and any
// extra records given) and given fresh eventIDs and increasing eventTimes. In the S3 layout the
// files lie under CloudTrail's own keys, spread over regions and days. Files are written as a
// stream, whatever their size.
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

	// Layout S3 writes AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<file>, the files
	// going round Regions in turn; Flat writes every file into dir.
	Layout  Layout
	Account string   // default 111122223333
	Regions []string // default us-east-1; each record's awsRegion is its file's
	Extra   []string // more records (JSON objects) to draw from, beside the samples
	Plain   bool     // write .json files, not gzip'd .json.gz
}

// Layout is how the files are laid out under the corpus directory.
type Layout int

const (
	Flat Layout = iota
	S3
)

// deliveryDelay is when CloudTrail delivers a file after its last event (AWS: typically about five
// minutes on average), so a file's folder is the day it is delivered, not always its events' day.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-cloudtrail-works.html
const deliveryDelay = 5 * time.Minute

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
	if o.Account == "" {
		o.Account = "111122223333"
	}
	if len(o.Regions) == 0 {
		o.Regions = []string{"us-east-1"}
	}
	return o
}

// Stats describe what was written.
type Stats struct {
	Files, Records     int
	JSONBytes, GzBytes int64 // GzBytes: the files' size on disk (plain ones too)
}

const (
	idMark     = "@@EVENT_ID@@"
	timeMark   = "@@EVENT_TIME@@"
	regionMark = "@@REGION@@"
)

// Write generates the corpus into dir from the sample records in samplesDir.
func Write(dir, samplesDir string, opt Options) (Stats, error) {
	opt = opt.withDefaults()
	templates, err := loadTemplates(samplesDir)
	if err != nil {
		return Stats{}, err
	}
	for i, rec := range opt.Extra {
		extra, err := templatesOf([]byte(rec), fmt.Sprintf("extra record %d", i+1))
		if err != nil {
			return Stats{}, err
		}
		templates = append(templates, extra...)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)) //nolint:gosec // a seeded, repeatable corpus, not secrets
	var st Stats
	n := 0
	for f := range opt.Files {
		region := opt.Regions[f%len(opt.Regions)]
		// The file lies under the day it is delivered, after its last event: known before writing.
		last := opt.Start.Add(time.Duration(n+opt.RecordsPerFile-1) * opt.Step).UTC()
		path, err := opt.filePath(dir, f, region, last.Add(deliveryDelay))
		if err != nil {
			return st, err
		}
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
			_, _ = plain.Write(tmpl.fill(uuid(rng), when, region))
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

// filePath names file f as CloudTrail would, delivered at the given time:
// <account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<unique>.json.gz, under its day's folder in the S3 layout.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html
func (o Options) filePath(dir string, f int, region string, delivered time.Time) (string, error) {
	if o.Layout == Flat {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		name := fmt.Sprintf("%s_CloudTrail_%s_20261124T0000Z_%04d%s", o.Account, region, f, o.extension())
		return filepath.Join(dir, name), nil
	}
	folder := filepath.Join(dir, "AWSLogs", o.Account, "CloudTrail", region, delivered.Format("2006/01/02"))
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s_CloudTrail_%s_%s_%04d%s", o.Account, region, delivered.Format("20060102T1504Z"), f, o.extension())
	return filepath.Join(folder, name), nil
}

func (o Options) extension() string {
	if o.Plain {
		return ".json"
	}
	return ".json.gz"
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
type template struct{ parts [][]byte } // text and marks, split on the marks

func (t template) fill(id, when, region string) []byte {
	var b []byte
	for _, p := range t.parts {
		switch string(p) {
		case idMark:
			b = append(b, id...)
		case timeMark:
			b = append(b, when...)
		case regionMark:
			b = append(b, region...)
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
		templates, err := templatesOf(data, name)
		if err != nil {
			return nil, err
		}
		out = append(out, templates...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no sample records (*.json)", samplesDir)
	}
	return out, nil
}

// templatesOf reads a {"Records":[...]} file or a single record.
func templatesOf(data []byte, name string) ([]template, error) {
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
	var out []template
	for _, rec := range file.Records {
		rec["eventID"], rec["eventTime"], rec["awsRegion"] = idMark, timeMark, regionMark
		compact, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, splitMarks(compact))
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
		case strings.HasPrefix(s[i:], regionMark):
			mark = regionMark
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
