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
	account, region string        // replay's --account and --region; "" keeps all
	fileBuf         *bufio.Reader // the file as stored
	plainBuf        *bufio.Reader // the gzip stream's contents, to peek at as the file's
	gz              *gzip.Reader
	packed          bytes.Buffer // a small gzip file, whole
	packedReader    bytes.Reader
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

	served *servedLines // the app's served lines, when a rule joins on them; else nil
	joins  []bool       // by rule index: the rule joins on the request id
	ends   spelledEnds  // of the file's times in CloudTrail's spelling (span.go)

	progress   *Progress // nil unless the run reports progress (progress.go)
	unreported int       // records judged and not yet added to progress
	span       bool      // ReplayOptions.Span
	matchKeys  bool      // ReplayOptions.MatchKeys
}

func newFileReader(m *Matcher, opt *ReplayOptions, log *matchLog) *fileReader {
	fr := &fileReader{matcher: m, account: opt.Account, region: opt.Region, log: log,
		progress: opt.Progress, span: opt.Span, matchKeys: opt.MatchKeys,
		fileBuf: bufio.NewReaderSize(nil, sniffSize), plainBuf: bufio.NewReaderSize(nil, sniffSize)}
	fr.joins = make([]bool, len(m.rules))
	for i, r := range m.rules {
		if r.join != nil {
			fr.joins[i] = true
			fr.served = newServedLines(r.join.event)
		}
	}
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
	notLog     bool   // met in a directory, and not a log
	skipped    string // why the file was passed over on purpose
	span       timeSpan
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
	if !fr.skipByteOrderMark(src, in.named) {
		return
	}
	head, _ := src.Peek(sniffSize) // an error shows again when the scanner reads
	head = bytes.TrimLeft(head, " \t\r\n")
	s := &fr.stream.scan
	s.readFrom(src)
	if len(head) == 0 {
		if s.atEnd() && s.readErr != nil {
			fr.problemErr(spot{}, false, s.readErr)
		} else if s.pos >= len(s.data) {
			fr.problem(spot{}, false, "empty file: no records")
		} else {
			fr.readDocuments() // whitespace past the peek, then something
		}
		return
	}
	switch c := head[0]; {
	case c == '{' || c == '[':
		if fr.firstLineIsWholeValue(head) {
			fr.readLines(1)
		} else {
			fr.readDocuments()
		}
	case firstLineLooksLikeLog(head) || in.named:
		fr.readLines(1)
	default:
		fr.out.notLog, fr.out.skipped = true, "not a log file: its first line is not JSON"
	}
}

func (fr *fileReader) finish() {
	fr.finishSpan()
	fr.fileDone()
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

// sniffSize is how much of a file is looked at to tell its shape: a first line of JSON lines
// longer than this is read as a document, and the lines after it as lines.
const sniffSize = 64 << 10

// wholeGzip is the largest gzip file read into memory before it is decompressed: the
// decompressor runs about a third faster on bytes in memory than through a bufio.Reader (profile
// of BenchmarkReplay), and CloudTrail's objects are far smaller. Larger files stream.
const wholeGzip = 4 << 20

// open returns the file's contents as a stream to peek at, decompressed when it starts with the
// gzip magic bytes, whatever its name.
func (fr *fileReader) open(in inputFile) (*bufio.Reader, func(), error) {
	var r io.Reader
	var size int64
	closeFile := func() {}
	if in.inMemory {
		r, size = fr.countRead(bytes.NewReader(in.data)), int64(len(in.data))
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, nil, unwrapPathError(err)
		}
		r, closeFile, size = fr.countRead(readErrors{f}), func() { _ = f.Close() }, -1 // read-only: a close error changes nothing
		if info, err := f.Stat(); err == nil {
			size = info.Size()
		}
	}
	fr.fileBuf.Reset(r)
	if head, _ := fr.fileBuf.Peek(len(gzipMagic)); !bytes.Equal(head, gzipMagic) {
		return fr.fileBuf, closeFile, nil
	}
	var packed io.Reader = fr.fileBuf
	if size >= 0 && size <= wholeGzip {
		fr.packed.Reset()
		if _, err := fr.packed.ReadFrom(fr.fileBuf); err != nil {
			closeFile()
			return nil, nil, err
		}
		fr.packedReader.Reset(fr.packed.Bytes())
		packed = &fr.packedReader
	}
	var err error
	if fr.gz == nil {
		fr.gz, err = gzip.NewReader(packed)
	} else {
		err = fr.gz.Reset(packed)
	}
	if err != nil {
		closeFile()
		return nil, nil, gzipError(err)
	}
	fr.plainBuf.Reset(gzipErrors{fr.gz})
	return fr.plainBuf, closeFile, nil
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
func (fr *fileReader) skipByteOrderMark(src *bufio.Reader, named bool) bool {
	head, _ := src.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = src.Discard(3) // peeked: cannot fail
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		if named {
			fr.problem(spot{}, false, "UTF-16 text (byte-order mark): replay reads UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8")
		} else {
			fr.out.notLog, fr.out.skipped = true, "UTF-16 text, not UTF-8"
		}
		return false
	}
	return true
}

// firstLineIsWholeValue tells a file of one record per line from one JSON document: the first
// line is a whole JSON value and more follows it.
func (fr *fileReader) firstLineIsWholeValue(head []byte) bool {
	first, rest, found := bytes.Cut(head, []byte("\n"))
	if !found || len(bytes.TrimSpace(rest)) == 0 {
		return false
	}
	fr.probe.setData(bytes.TrimSpace(first))
	return fr.probe.value(nil, nil) == nil && fr.probe.atEnd()
}

// firstLineLooksLikeLog is true for lines that start with a timestamp, as CloudWatch Logs
// export tasks write them, and for AWS CLI text output.
func firstLineLooksLikeLog(head []byte) bool {
	first, _, _ := bytes.Cut(head, []byte("\n"))
	first = bytes.TrimSpace(first)
	_, ok := cutTimestamp(first)
	return ok || cliTextRow(first)
}

// readDocuments reads the file as JSON documents, one or more after another. When the first
// was one line and a newline follows, the file is JSON lines after all (its first line was longer
// than the sniff): the rest is read line by line.
func (fr *fileReader) readDocuments() {
	s := &fr.stream.scan
	for docs := 0; ; docs++ {
		before := s.newlines
		if s.atEnd() {
			break
		}
		if docs == 1 && s.newlines > before && before == 0 {
			fr.readLines(s.newlines + 1)
			return
		}
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
		if fr.served != nil {
			fr.served.add(rec.f)
		}
	} else if !fr.inScope(rec, env) {
		fr.out.outOfScope++
		return
	}
	fr.out.records++
	fr.out.byShape[sh]++
	if fr.span {
		fr.noteTime(rec)
	}
	fr.recordJudged()
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
	if fr.matchKeys {
		sf.key = matchedKey(rec.f)
	}
	for _, rule := range fr.hits {
		sf.requestID = nil
		if fr.joins[rule] {
			sf.requestID = rec.f.bytes(slotRequestID)
		}
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
