package rules

import (
	"bytes"
	"fmt"
)

// shape is the form records came in, as counted in a run's summary.
type shape uint8

const (
	shapeSingle       shape = iota // a file (or line) that is one record
	shapeTrailFile                 // {"Records":[...]}, as CloudTrail writes to S3
	shapeArray                     // a JSON array of records
	shapeLines                     // one record per line
	shapeExportLines               // a timestamp and a record per line: a CloudWatch Logs export to S3
	shapeAppLog                    // the app's own slog lines
	shapeEventBridge               // an EventBridge event, the record in "detail"
	shapeLookupEvents              // aws cloudtrail lookup-events: Events[].CloudTrailEvent
	shapeLogEvents                 // aws logs filter-log-events: events[].message
	shapeCLIText                   // AWS CLI --output text: EVENTS rows
	shapeLake                      // CloudTrail Lake query results: QueryResultRows
	numShapes
)

// shapeNames say where records came from, as the summary counts them: "CloudTrail log files: 4".
var shapeNames = [numShapes]string{
	shapeSingle:       "single records",
	shapeTrailFile:    "CloudTrail log files",
	shapeArray:        "JSON arrays",
	shapeLines:        "JSON lines",
	shapeExportLines:  "CloudWatch Logs exports",
	shapeAppLog:       "app log lines",
	shapeEventBridge:  "EventBridge events",
	shapeLookupEvents: "lookup-events output",
	shapeLogEvents:    "filter-log-events output",
	shapeCLIText:      "AWS CLI text output",
	shapeLake:         "CloudTrail Lake query rows",
}

func (s shape) String() string { return shapeNames[s] }

// spot is where in a file a record or a problem is: a line of a line-per-record file, an item of
// a document's array (from 1), or both.
type spot struct{ line, item int }

// docLevel reads JSON documents at one level: the file's stream, one line of it, or a message
// held in a string (lookup-events' CloudTrailEvent, filter-log-events' message). Each level has
// its own scanner and fields, so that a message can be read while the item holding it is open.
type docLevel struct {
	fr        *fileReader
	scan      scanner
	top, item fields
	inner     [2]fields // "detail" of top and item
	where     spot      // of the document
	shape     shape     // what a single record here counts as
	streamed  bool      // the document's items were judged as they streamed
	sub       *docLevel // reads the messages in this level's items; nil at the last level
}

func newDocLevel(fr *fileReader, sub *docLevel) *docLevel {
	d := &docLevel{fr: fr, sub: sub}
	d.scan.idx = recordFields
	d.scan.hook = d
	d.top.inner, d.item.inner = &d.inner[0], &d.inner[1]
	return d
}

// document reads one JSON document at the scanner's position (after whitespace).
func (d *docLevel) document(sh shape, where spot) error {
	s := &d.scan
	s.pin()
	d.where, d.shape, d.streamed = where, sh, false
	switch s.data[s.pos] {
	case '{':
		d.top.reset(len(recordFields.paths))
		if err := s.object(recordFields.root, &d.top); err != nil {
			return err
		}
		if !d.streamed {
			d.judgeObject(&d.top, sh, where)
		}
		return nil
	case '[':
		return d.items(shapeArray)
	}
	return s.errorf("unexpected %q: want a JSON object or array", s.data[s.pos])
}

// container is the scanner's hook for {"Records":[...]} and its kin: their items are judged one
// by one as they stream past; the document's own fields are copied out of the buffers first.
func (d *docLevel) container(s *scanner, node *pathNode) error {
	d.streamed = true
	d.top.detach()
	err := d.items(node.shape)
	s.pin()
	return err
}

// items reads an array of items at the scanner's position.
func (d *docLevel) items(sh shape) error {
	s := &d.scan
	s.depth++ // items are not documents: containers inside them are not unwrapped
	defer func() { s.depth-- }()
	s.pos++ // '['
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for n := 1; ; n++ {
		s.skipWS()
		if s.pos >= len(s.data) {
			return s.endErr()
		}
		s.pin()
		where := spot{line: d.where.line, item: n}
		d.item.reset(len(recordFields.paths))
		switch s.data[s.pos] {
		case '{':
			if err := s.object(recordFields.root, &d.item); err != nil {
				return err
			}
			d.judgeObject(&d.item, sh, where)
		case '[': // a CloudTrail Lake row: one {"column": value} object per column
			if err := s.array(recordFields.root, &d.item, false); err != nil {
				return err
			}
			d.judgeObject(&d.item, sh, where)
		case '"': // a message: aws logs filter-log-events --query 'events[].message'
			text, err := s.str(true)
			if err != nil {
				return err
			}
			d.message(text, sh, where)
		default:
			if err := s.value(nil, nil); err != nil {
				return err
			}
			d.fr.problem(where, false, "want a JSON object")
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return s.endErr()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or ']' after an item, got %q", s.data[s.pos])
		}
	}
}

// judgeObject tells what one JSON object is and judges the record it is or holds.
func (d *docLevel) judgeObject(f *fields, sh shape, where spot) {
	fr := d.fr
	switch {
	case f.has(slotDetailType):
		dt := f.bytes(slotDetailType)
		switch {
		case !bytes.HasSuffix(dt, []byte(" via CloudTrail")):
			fr.problem(where, true, fmt.Sprintf("an EventBridge event of detail-type %q, not one CloudTrail sends: no CloudTrail record in it", dt))
		case !f.nested:
			fr.problem(where, true, fmt.Sprintf("an EventBridge event of detail-type %q without a detail object", dt))
		default:
			fr.judgeRecord(Record{f.inner}, f, shapeEventBridge, where)
		}
	case f.has(slotCloudTrailEv):
		d.message(f.bytes(slotCloudTrailEv), shapeLookupEvents, where)
	case f.has(slotMessage) && (f.has(slotLogStream) || f.has(slotIngestionTime)):
		d.message(f.bytes(slotMessage), shapeLogEvents, where)
	case f.has(slotDigest) && !f.has(slotEventSource):
		fr.out.digests++
	default:
		fr.judgeRecord(Record{f}, nil, sh, where)
	}
}

// message reads a record held in a JSON string.
func (d *docLevel) message(text []byte, sh shape, where spot) {
	if d.sub == nil {
		d.fr.problem(where, true, "a record in a string in a string: not unwrapped further")
		return
	}
	sub := d.sub
	sub.scan.setData(text)
	if sub.scan.atEnd() {
		d.fr.problem(where, false, "an empty message: no record")
		return
	}
	if c := sub.scan.data[sub.scan.pos]; c != '{' && c != '[' {
		d.fr.problem(where, true, fmt.Sprintf("a message that is not JSON (%.40q)", text))
		return
	}
	if err := sub.document(sh, where); err != nil {
		d.fr.problem(where, false, "message: not valid JSON: "+err.Error())
		return
	}
	if !sub.scan.atEnd() {
		d.fr.problem(where, false, "message: unexpected data after the JSON document")
	}
}
