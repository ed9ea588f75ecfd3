package rules

import (
	"bufio"
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
	matcher         *Matcher
	account, region string // replay's --account and --region; "" keeps all
	br              *bufio.Reader
	gz              *gzip.Reader
	stream          *docLevel // the file, streamed
	line            *docLevel // one line of it
	msg             *docLevel // a record held in a string
	probe           scanner   // tries whether the first line is a whole JSON value
	log             *matchLog

	path      string
	fileIndex int
	lines     bool // reading line by line
	bad       int  // problems in this file, listed up to maxBadLines
	hits      []int
	out       fileResult
}

func newFileReader(m *Matcher, opt *ReplayOptions, log *matchLog) *fileReader {
	fr := &fileReader{matcher: m, account: opt.Account, region: opt.Region, log: log, br: bufio.NewReaderSize(nil, 64<<10)}
	fr.msg = newDocLevel(fr, nil)
	fr.line = newDocLevel(fr, fr.msg)
	fr.stream = newDocLevel(fr, fr.msg)
	fr.probe.idx = recordFields
	return fr
}

type fileResult struct {
	problems   []Problem
	records    int // judged by the rules
	byShape    [numShapes]int
	counts     []int // matches per rule
	insights   []Insight
	digests    int
	outOfScope int
	unknown    int
	skipped    string // why the file was passed over on purpose
}

var gzipMagic = []byte{0x1f, 0x8b}

var errTruncatedGzip = errors.New("gzip: truncated (unexpected end of data)")

// maxBadLines caps the problems listed for one file, so that a file of something else
// (a README in a log directory) is one short complaint, not thousands.
const maxBadLines = 10

func (fr *fileReader) read(in inputFile, fileIndex int) fileResult {
	fr.out = fileResult{counts: make([]int, len(fr.matcher.rules))}
	fr.path, fr.fileIndex, fr.lines, fr.bad = in.path, fileIndex, false, 0
	fr.readFile(in)
	fr.finish()
	return fr.out
}

func (fr *fileReader) readFile(in inputFile) {
	src, closeFile, err := fr.open(in)
	if err != nil {
		fr.problemErr(spot{}, false, err)
		return
	}
	defer closeFile()
	s := &fr.stream.scan
	s.readFrom(src)
	if !fr.skipByteOrderMark(in.named) {
		return
	}
	if s.atEnd() {
		if s.readErr != nil {
			fr.problemErr(spot{}, false, s.readErr)
		} else {
			fr.problem(spot{}, false, "empty file: no records")
		}
		return
	}
	switch c := s.data[s.pos]; {
	case c == '{' || c == '[':
		if fr.firstLineIsWholeValue() {
			fr.readLines()
		} else {
			fr.readDocuments()
		}
	case fr.firstLineLooksLikeLog() || in.named:
		fr.readLines()
	default:
		fr.out.skipped = "not a log file: its first line is not JSON"
	}
}

func (fr *fileReader) finish() {
	if fr.bad > maxBadLines {
		what := "problems"
		if fr.lines {
			what = "unreadable lines"
		}
		fr.out.problems = append(fr.out.problems, Problem{File: fr.path, Err: fmt.Errorf("%d more %s not listed", fr.bad-maxBadLines, what)})
	}
	if fr.out.digests > 0 && fr.out.records == 0 && len(fr.out.insights) == 0 && fr.out.skipped == "" {
		fr.out.skipped = "CloudTrail digest file"
	}
}

// open returns the file's contents as a stream, decompressed when it starts with the gzip magic
// bytes, whatever its name.
func (fr *fileReader) open(in inputFile) (io.Reader, func(), error) {
	var r io.Reader
	closeFile := func() {}
	if in.inMemory {
		r = bytes.NewReader(in.data)
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, nil, unwrapPathError(err)
		}
		r, closeFile = readErrors{f}, func() { _ = f.Close() } // read-only: a close error changes nothing
	}
	fr.br.Reset(r)
	if head, _ := fr.br.Peek(len(gzipMagic)); !bytes.Equal(head, gzipMagic) {
		return fr.br, closeFile, nil
	}
	var err error
	if fr.gz == nil {
		fr.gz, err = gzip.NewReader(fr.br)
	} else {
		err = fr.gz.Reset(fr.br)
	}
	if err != nil {
		closeFile()
		return nil, nil, gzipError(err)
	}
	return gzipErrors{fr.gz}, closeFile, nil
}

type readErrors struct{ r io.Reader }

func (e readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = unwrapPathError(err)
	}
	return n, err
}

// gzipErrors names the errors of a gzip stream as such.
type gzipErrors struct{ r io.Reader }

func (g gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = gzipError(err)
	}
	return n, err
}

func gzipError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errTruncatedGzip
	}
	return fmt.Errorf("gzip: %w", err)
}

// skipByteOrderMark passes over a UTF-8 byte-order mark, as Windows tools write one; UTF-16 is
// refused by name rather than read as garbage.
func (fr *fileReader) skipByteOrderMark(named bool) bool {
	s := &fr.stream.scan
	if len(s.data)-s.pos < 3 {
		s.fill(s.pos)
	}
	rest := s.data[s.pos:]
	switch {
	case bytes.HasPrefix(rest, []byte{0xEF, 0xBB, 0xBF}):
		s.pos += 3
	case bytes.HasPrefix(rest, []byte{0xFF, 0xFE}) || bytes.HasPrefix(rest, []byte{0xFE, 0xFF}):
		if named {
			fr.problem(spot{}, false, "UTF-16 text (byte-order mark): replay reads UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8")
		} else {
			fr.out.skipped = "UTF-16 text, not UTF-8"
		}
		return false
	}
	return true
}

// firstLineIsWholeValue tells a file of one record per line from one JSON document: the first
// line is a whole JSON value and more follows it.
func (fr *fileReader) firstLineIsWholeValue() bool {
	s := &fr.stream.scan
	i := bytes.IndexByte(s.data[s.pos:], '\n')
	if i < 0 || len(bytes.TrimSpace(s.data[s.pos+i+1:])) == 0 {
		return false
	}
	fr.probe.setData(bytes.TrimSpace(s.data[s.pos : s.pos+i]))
	return fr.probe.value(nil, nil) == nil && fr.probe.atEnd()
}

// firstLineLooksLikeLog is true for lines that start with a timestamp, as CloudWatch Logs
// export tasks write them, and for AWS CLI text output.
func (fr *fileReader) firstLineLooksLikeLog() bool {
	s := &fr.stream.scan
	first, _, _ := bytes.Cut(s.data[s.pos:], []byte("\n"))
	first = bytes.TrimSpace(first)
	_, ok := cutTimestamp(first)
	return ok || cliTextRow(first)
}

// readDocuments reads the file as JSON documents, one or more after another.
func (fr *fileReader) readDocuments() {
	s := &fr.stream.scan
	for !s.atEnd() {
		if err := fr.stream.document(shapeSingle, spot{}); err != nil {
			if s.readErr != nil && errors.Is(err, s.readErr) {
				fr.problemErr(spot{}, false, err)
			} else {
				fr.problem(spot{}, false, "not valid JSON: "+err.Error())
			}
			return
		}
	}
	if s.readErr != nil {
		fr.problemErr(spot{}, false, s.readErr)
	}
}

// judgeRecord judges one record: CloudTrail's, or an app log line. env is the EventBridge event
// the record came in, if any.
func (fr *fileReader) judgeRecord(rec Record, env *fields, sh shape, where spot) {
	if rec.isInsight() {
		fr.insight(rec, where)
		return
	}
	app := rec.IsAppLog()
	if !app && !rec.looksLikeCloudTrail() {
		fr.problem(where, true, "a JSON object with none of CloudTrail's fields (eventVersion, eventTime, eventSource, eventName), nor an app log line")
		return
	}
	if app {
		sh = shapeAppLog
	} else if !fr.inScope(rec, env) {
		fr.out.outOfScope++
		return
	}
	fr.out.records++
	fr.out.byShape[sh]++
	fr.hits = fr.matcher.Match(rec, fr.hits[:0])
	if len(fr.hits) == 0 {
		if err := rec.checkShape(); err != nil {
			fr.problemErr(where, false, err)
		}
		return
	}
	sf, err := rec.summaryFields()
	if err != nil {
		fr.problemErr(where, false, err)
		return
	}
	for _, rule := range fr.hits {
		fr.log.add(rule, fr.fileIndex, max(where.line, where.item), &sf)
		fr.out.counts[rule]++
	}
}

// inScope applies --account and --region: the record's recipientAccountId (or, missing, its
// envelope's account, then the caller's) and awsRegion (or its envelope's region). A record
// without one is outside a filter on it.
func (fr *fileReader) inScope(rec Record, env *fields) bool {
	if fr.account != "" {
		acct := rec.f.bytes(slotRecipient)
		if len(acct) == 0 && env != nil {
			acct = env.bytes(slotEnvAccount)
		}
		if len(acct) == 0 {
			acct = rec.f.bytes(slotCallerAccount)
		}
		if string(acct) != fr.account {
			return false
		}
	}
	if fr.region != "" {
		region := rec.f.bytes(slotAWSRegion)
		if len(region) == 0 && env != nil {
			region = env.bytes(slotEnvRegion)
		}
		if string(region) != fr.region {
			return false
		}
	}
	return true
}

// Insight is a CloudTrail Insights event: unusual API call or error rates that CloudTrail saw.
// Replay counts and shows them as context; no rule judges them.
type Insight struct {
	File                                       string
	EventTime                                  time.Time
	State, InsightType, EventSource, EventName string
}

func (fr *fileReader) insight(rec Record, where spot) {
	f := rec.f
	t, err := parseEventTime(f.bytes(slotEventTime))
	if err != nil {
		fr.problem(where, false, "Insights event: eventTime: "+err.Error())
		return
	}
	fr.out.insights = append(fr.out.insights, Insight{
		File: fr.path, EventTime: t, State: f.str(slotInsightState), InsightType: f.str(slotInsightType),
		EventSource: f.str(slotInsightSource), EventName: f.str(slotInsightName),
	})
}

func (fr *fileReader) problem(where spot, unknown bool, msg string) {
	fr.problemErr(where, unknown, errors.New(msg))
}

func (fr *fileReader) problemErr(where spot, unknown bool, err error) {
	if unknown {
		fr.out.unknown++
	}
	if fr.bad++; fr.bad > maxBadLines {
		return
	}
	fr.out.problems = append(fr.out.problems, Problem{File: fr.path, Line: where.line, Item: where.item, Err: err, Unknown: unknown})
}
