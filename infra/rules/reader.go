package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
)

// fileReader reads one file at a time, reusing its buffers; one per worker.
type fileReader struct {
	matcher *Matcher
	raw     bytes.Buffer // the file as stored
	plain   bytes.Buffer // the file decompressed
	gz      *gzip.Reader
	scan    scanner
	top     fields // the document's own top-level fields
	rec     fields // the record being matched
	hits    []int
}

func newFileReader(m *Matcher) *fileReader {
	return &fileReader{matcher: m, scan: scanner{idx: recordFields}}
}

type fileResult struct {
	matches  []Match
	problems []Problem
	records  int
	skipped  string // why the file was passed over on purpose
}

var gzipMagic = []byte{0x1f, 0x8b}

func (fr *fileReader) read(in inputFile) (out fileResult) {
	path := in.path
	fail := func(err error) fileResult {
		// A file that cannot be read through is skipped whole: its records are not counted.
		return fileResult{problems: append(out.problems, Problem{File: path, Err: err})}
	}
	data, compressed, err := fr.load(in)
	if err != nil {
		return fail(err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return fail(errors.New("empty file: no records"))
	}
	if !in.named && !compressed && !looksLikeLog(data) {
		return fileResult{skipped: "not a log file: its first line is not JSON"}
	}
	if isJSONLines(data) {
		fr.readLines(path, data, &out)
		return out
	}
	skipped, err := fr.document(data, func(item int, rec Record, err error) {
		fr.record(path, 0, item, rec, err, &out)
	})
	if err != nil {
		return fail(fmt.Errorf("not valid JSON: %w", err))
	}
	if skipped {
		out.skipped = "CloudTrail digest file"
	}
	return out
}

// looksLikeLog is true when the first line starts a JSON object, after a timestamp or not.
func looksLikeLog(data []byte) bool {
	if data[0] == '{' {
		return true
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	_, ok := cutTimestamp(bytes.TrimSpace(first))
	return ok
}

// isJSONLines tells a file of one record per line from one JSON document: the first line is a
// whole object and more follows, or lines start with a timestamp.
func isJSONLines(data []byte) bool {
	if data[0] != '{' {
		return true
	}
	first, rest, found := bytes.Cut(data, []byte("\n"))
	first = bytes.TrimSpace(first)
	return found && first[len(first)-1] == '}' && len(bytes.TrimSpace(rest)) > 0
}

// document scans one JSON document: a {"Records":[...]} log file, whose records go to onRecord
// one by one, or a single record. skipped is true for a CloudTrail digest file.
func (fr *fileReader) document(data []byte, onRecord func(item int, rec Record, err error)) (skipped bool, err error) {
	s := &fr.scan
	s.data, s.pos, s.depth = data, 0, 0
	n := len(recordFields.paths)
	fr.top.reset(n)
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return false, s.errorf("want a JSON object")
	}
	sawRecords := false
	err = s.object(recordFields.root, &fr.top, func(key []byte) (bool, error) {
		if string(key) != "Records" {
			return false, nil
		}
		if s.pos >= len(s.data) || s.data[s.pos] != '[' {
			return false, s.errorf("Records is not an array")
		}
		sawRecords = true
		return true, fr.records(onRecord)
	})
	if err != nil {
		return false, err
	}
	if s.skipWS(); s.pos != len(s.data) {
		return false, s.errorf("unexpected data after the JSON document")
	}
	switch {
	case sawRecords:
	case fr.top.has(slotDigest):
		return true, nil
	default:
		onRecord(0, Record{f: &fr.top}, nil)
	}
	return false, nil
}

// records scans the Records array at the scanner's position.
func (fr *fileReader) records(onRecord func(item int, rec Record, err error)) error {
	s := &fr.scan
	s.pos++ // '['
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for item := 1; ; item++ {
		s.skipWS()
		if s.pos < len(s.data) && s.data[s.pos] == '{' {
			fr.rec.reset(len(recordFields.paths))
			if err := s.object(recordFields.root, &fr.rec, nil); err != nil {
				return err
			}
			onRecord(item, Record{f: &fr.rec}, nil)
		} else {
			if err := s.value(nil, nil); err != nil {
				return err
			}
			onRecord(item, Record{}, errors.New("want a JSON object"))
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or ']' in Records, got %q", s.data[s.pos])
		}
	}
}

// load reads the file and decompresses it when it starts with the gzip magic bytes.
func (fr *fileReader) load(in inputFile) (data []byte, compressed bool, err error) {
	raw := in.data
	if !in.inMemory {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, false, unwrapPathError(err)
		}
		defer f.Close()
		fr.raw.Reset()
		if _, err := fr.raw.ReadFrom(f); err != nil {
			return nil, false, unwrapPathError(err)
		}
		raw = fr.raw.Bytes()
	}
	if !bytes.HasPrefix(raw, gzipMagic) {
		return raw, false, nil
	}
	if fr.gz == nil {
		fr.gz, err = gzip.NewReader(bytes.NewReader(raw))
	} else {
		err = fr.gz.Reset(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, true, fmt.Errorf("gzip: %w", err)
	}
	fr.plain.Reset()
	if _, err := fr.plain.ReadFrom(fr.gz); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, true, errors.New("gzip: truncated (unexpected end of data)")
		}
		return nil, true, fmt.Errorf("gzip: %w", err)
	}
	return fr.plain.Bytes(), true, nil
}

// maxBadLines caps the problems listed for one file, so that a file of something else
// (a README in a log directory) is one short complaint, not thousands.
const maxBadLines = 10

// readLines reads one record per line. A line may start with a timestamp and a space before the
// JSON, as CloudWatch Logs export tasks write log events to S3.
func (fr *fileReader) readLines(path string, data []byte, out *fileResult) {
	lineNo, bad := 0, 0
	badLine := func(err error) {
		if bad++; bad <= maxBadLines {
			out.problems = append(out.problems, Problem{File: path, Line: lineNo, Err: err})
		}
	}
	defer func() {
		if bad > maxBadLines {
			out.problems = append(out.problems, Problem{File: path, Err: fmt.Errorf("%d more unreadable lines not listed", bad-maxBadLines)})
		}
	}()
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		lineNo++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			var ok bool
			if line, ok = cutTimestamp(line); !ok {
				badLine(errors.New("not a JSON record"))
				continue
			}
		}
		if _, err := fr.document(line, func(item int, rec Record, err error) {
			fr.record(path, lineNo, item, rec, err, out)
		}); err != nil {
			badLine(fmt.Errorf("not valid JSON: %w", err))
		}
	}
}

// cutTimestamp returns the JSON after a leading RFC 3339 timestamp and space.
func cutTimestamp(line []byte) ([]byte, bool) {
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return nil, false
	}
	if _, err := time.Parse(time.RFC3339Nano, string(ts)); err != nil {
		return nil, false
	}
	rest = bytes.TrimSpace(rest)
	return rest, len(rest) > 0 && rest[0] == '{'
}

// record matches one record; a record the rules cannot place in time is a problem.
func (fr *fileReader) record(path string, line, item int, rec Record, err error, out *fileResult) {
	out.records++
	if err == nil {
		fr.hits = fr.matcher.Match(rec, fr.hits[:0])
		if len(fr.hits) == 0 {
			err = rec.checkShape()
		}
	}
	var sum Summary
	if err == nil && len(fr.hits) > 0 {
		sum, err = rec.Summarize()
	}
	if err != nil {
		out.problems = append(out.problems, Problem{File: path, Line: line, Item: item, Err: err})
		return
	}
	for _, rule := range fr.hits {
		out.matches = append(out.matches, Match{Rule: rule, File: path, Position: max(line, item), Summary: sum})
	}
}
