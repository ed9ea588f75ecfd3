package rules

import "bytes"

// readLines reads one record per line, streamed. A line is a JSON document of any shape; it may
// start with a timestamp and a space, as CloudWatch Logs export tasks write log events to S3; or
// be a row of AWS CLI text output, whose EVENTS rows hold the record as a column.
func (fr *fileReader) readLines(first int) {
	fr.lines = true
	s := &fr.stream.scan
	for n := first; ; n++ {
		s.pin()
		line, ok := s.line()
		if !ok {
			break
		}
		fr.judgeLine(line, n)
	}
	if s.readErr != nil {
		fr.problemErr(spot{}, false, s.readErr)
	}
}

// line returns the next line without its newline, reading more input as needed; the last line
// may lack a newline. It is valid until the second refill after the next pin.
func (s *scanner) line() ([]byte, bool) {
	start, from := s.pos, s.pos
	for {
		if i := bytes.IndexByte(s.data[from:], '\n'); i >= 0 {
			s.pos = from + i + 1
			return s.data[start : from+i], true
		}
		from = len(s.data)
		shift, ok := s.fill(start)
		if !ok {
			if start < len(s.data) {
				s.pos = len(s.data)
				return s.data[start:], true
			}
			return nil, false
		}
		start, from = start-shift, from-shift
	}
}

func (fr *fileReader) judgeLine(line []byte, n int) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	where, sh := spot{line: n}, shapeLines
	switch c := line[0]; {
	case c == '{' || c == '[':
	case c >= '0' && c <= '9':
		rest, ok := cutTimestamp(line)
		if !ok {
			fr.problem(where, false, "not a JSON record")
			return
		}
		line, sh = rest, shapeExportLines
	case bytes.HasPrefix(line, []byte("EVENTS\t")):
		// aws logs filter-log-events / cloudtrail lookup-events --output text: one row per event, its
		// columns the event's keys in sorted order, the record a JSON column among them.
		// https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-output-format.html#text-output
		i := bytes.Index(line, []byte("\t{"))
		if i < 0 {
			fr.problem(where, true, "an EVENTS row of AWS CLI text output with no JSON column")
			return
		}
		line, sh = line[i+1:], shapeCLIText
	case cliTextRow(line):
		return // the text output's other rows (SEARCHEDLOGSTREAMS, RESOURCES): no records in them
	default:
		fr.problem(where, false, "not a JSON record")
		return
	}
	lv := fr.line
	lv.scan.setData(line)
	// Several documents on a line are tab-separated columns: --query 'events[].message' --output text.
	for docs := 0; !lv.scan.atEnd(); docs++ {
		if sh == shapeCLIText && docs == 1 {
			break // the row's next column
		}
		if err := lv.document(sh, where); err != nil {
			fr.problem(where, false, "not valid JSON: "+err.Error())
			return
		}
	}
}

// cutTimestamp returns the JSON after a leading RFC 3339 timestamp and space.
func cutTimestamp(line []byte) ([]byte, bool) {
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(ts) < 20 || ts[10] != 'T' {
		return nil, false
	}
	if _, err := parseEventTime(ts); err != nil {
		return nil, false
	}
	rest = bytes.TrimSpace(rest)
	return rest, len(rest) > 0 && (rest[0] == '{' || rest[0] == '[')
}

// cliTextRow is a row of AWS CLI text output: an upper-case identifier, then a tab.
func cliTextRow(line []byte) bool {
	i := bytes.IndexByte(line, '\t')
	if i <= 0 {
		return false
	}
	for _, c := range line[:i] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return line[0] >= 'A' && line[0] <= 'Z'
}
