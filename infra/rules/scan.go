package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// A JSON scanner that extracts only the record fields the rules and the replay summary read, and
// skips everything else without building it. On the replay corpus it took 0.29 s single-threaded
// for 221 MB where fastjson's full parse (which builds every requestParameters tree) took 0.62 s,
// and parsing is most of replay's time. It checks JSON structure as it goes, so a malformed file is
// still reported; escapes are decoded (and checked) only in the strings it keeps.
//
// It reads incrementally: from bytes held whole, or from a reader through two buffers that take
// turns, so that a file of any size is scanned in constant memory. Values it extracts point into
// the buffers; a refill writes into the buffer not being read, so they stay valid until the
// second refill after the unit (record, line) they belong to began: see pin.

type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindNull
	kindOther // true, false, object, array
)

type fieldValue struct {
	kind valueKind
	text []byte // string contents, unescaped; the literal for numbers
}

// containerHook receives the arrays under container keys at a document's top level.
type containerHook interface {
	container(s *scanner, node *pathNode) error
}

type scanner struct {
	data  []byte // the window: data[pos:] is unread
	pos   int
	depth int
	base  int64 // offset in the input of data[0], for error positions
	// newlines counts the newlines skipped as whitespace; JSON strings hold none, so between
	// documents it tells a file of one record per line.
	newlines int
	idx      *fieldIndex

	src     io.Reader // nil when data is the whole input
	bufs    [2][]byte
	cur     int
	refills int // refills since the unit in progress began
	eof     bool
	readErr error // why the reader stopped early (a truncated gzip stream); nil at a clean end

	hook containerHook // nil: container keys are skipped like any unindexed key
}

// scanBufSize is one of the two buffers a streamed input is read through; tests shrink it to
// put record boundaries everywhere.
var scanBufSize = 256 << 10

const maxDepth = 512

var errUnexpectedEnd = errors.New("unexpected end of data")

// readFrom makes the scanner read src from its start.
func (s *scanner) readFrom(src io.Reader) {
	s.src, s.data, s.pos, s.depth, s.base, s.newlines = src, s.data[:0], 0, 0, 0, 0
	s.refills, s.eof, s.readErr = 0, false, nil
}

// setData makes the scanner read data, held whole.
func (s *scanner) setData(data []byte) {
	s.src, s.data, s.pos, s.depth, s.base, s.newlines = nil, data, 0, 0, 0, 0
	s.eof, s.readErr = true, nil
}

// pin marks the start of a unit whose extracted values must stay valid until the next pin. The
// first refill in a unit may reuse the other buffer, which holds only finished units; any further
// refill in the same unit gets a fresh buffer, since both hold values of the unit.
func (s *scanner) pin() { s.refills = 0 }

// fill reads more input, keeping data[keep:] (the token in progress) at the front of the window.
// It returns how far positions moved, to subtract from offsets the caller saved, and whether
// new bytes arrived.
func (s *scanner) fill(keep int) (int, bool) {
	if s.src == nil || s.eof {
		return 0, false
	}
	tail := s.data[keep:]
	next := 1 - s.cur
	dst := s.bufs[next]
	if need := max(scanBufSize, 2*len(tail)); s.refills > 0 || cap(dst) < need {
		dst = make([]byte, need)
	}
	dst = dst[:cap(dst)]
	n := copy(dst, tail)
	for n < len(dst) && !s.eof {
		m, err := s.src.Read(dst[n:])
		n += m
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.readErr = err
			}
		}
	}
	s.bufs[next], s.cur = dst, next
	s.refills++
	s.base += int64(keep)
	s.pos -= keep
	s.data = dst[:n]
	return keep, n > len(tail)
}

// endErr is the error for input that ends inside a value: the reader's, if it stopped early.
func (s *scanner) endErr() error {
	if s.readErr != nil {
		return s.readErr
	}
	return errUnexpectedEnd
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", s.base+int64(s.pos), fmt.Sprintf(format, args...))
}

// skipWS is small enough to inline: compact JSON, most of what replay reads, has no whitespace.
func (s *scanner) skipWS() {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return
	}
	s.skipWSSlow()
}

func (s *scanner) skipWSSlow() {
	for {
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ' ', '\t', '\r':
				s.pos++
			case '\n':
				s.newlines++
				s.pos++
			default:
				return
			}
		}
		if _, ok := s.fill(s.pos); !ok {
			return
		}
	}
}

// atEnd reports whether the input is used up, after whitespace.
func (s *scanner) atEnd() bool {
	s.skipWS()
	return s.pos >= len(s.data)
}

// object scans an object whose '{' is at pos, extracting into f the paths below node.
func (s *scanner) object(node *pathNode, f *fields) error {
	if s.depth++; s.depth > maxDepth {
		return s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	s.pos++ // '{'
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipWS()
		if s.pos >= len(s.data) {
			return s.endErr()
		}
		if s.data[s.pos] != '"' {
			return s.errorf("want an object key, got %q", s.data[s.pos])
		}
		key, err := s.str(true)
		if err != nil {
			return err
		}
		var child *pathNode
		if node != nil {
			child = node.child(key) // now: the key's bytes may not survive the whitespace below
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return s.endErr()
		}
		if s.data[s.pos] != ':' {
			return s.errorf("want ':' after object key")
		}
		s.pos++
		s.skipWS()
		if err := s.value(child, f); err != nil {
			return err
		}
		// The ',' or close check is written out here, in the array loop and in the item loop on
		// purpose: a shared helper does not inline and cost ~5% on BenchmarkReplay.
		s.skipWS()
		if s.pos >= len(s.data) {
			return s.endErr()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.errorf("want ',' or '}' in object, got %q", s.data[s.pos])
		}
	}
}

// value scans one value at pos. A nil node skips it; a leaf node records it; an inner node
// descends into objects and into each element of arrays.
func (s *scanner) value(node *pathNode, f *fields) error {
	if s.pos >= len(s.data) {
		return s.endErr()
	}
	start := s.pos
	c := s.data[s.pos]
	leaf := node != nil && node.slot >= 0
	switch {
	case c == '{':
		if leaf {
			if err := s.object(nil, nil); err != nil {
				return err
			}
			f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kindOther})
			return nil
		}
		if node != nil && node.kind == nodeNested {
			if f.inner == nil || f.nested {
				return s.object(nil, nil)
			}
			f.nested = true
			f.inner.reset(len(s.idx.paths))
			return s.object(s.idx.root, f.inner)
		}
		return s.object(node, f)
	case c == '[':
		if node != nil && node.kind == nodeContainer && s.hook != nil && s.depth == 1 {
			return s.hook.container(s, node)
		}
		if err := s.array(node, f, leaf); err != nil {
			return err
		}
		if leaf {
			f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kindOther})
		}
		return nil
	case c == '"':
		text, err := s.str(leaf)
		if err != nil {
			return err
		}
		if leaf {
			f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kindString, text: text})
		}
		return nil
	case c == 't' || c == 'f' || c == 'n':
		if len(s.data)-s.pos < len("false") {
			s.fill(s.pos)
		}
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
				s.pos += len(lit)
				if leaf {
					kind := kindOther
					if lit == "null" {
						kind = kindNull
					}
					f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kind})
				}
				return nil
			}
		}
		return s.errorf("invalid literal")
	case c == '-' || (c >= '0' && c <= '9'):
		for {
			for s.pos < len(s.data) && isNumberByte(s.data[s.pos]) {
				s.pos++
			}
			if s.pos < len(s.data) {
				break
			}
			shift, ok := s.fill(start)
			if !ok {
				break
			}
			start -= shift
		}
		if leaf {
			f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kindNumber, text: s.data[start:s.pos]})
		}
		return nil
	}
	return s.errorf("unexpected %q", c)
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// array scans an array at pos; unless the node is a leaf, its elements are searched with it.
func (s *scanner) array(node *pathNode, f *fields, leaf bool) error {
	if s.depth++; s.depth > maxDepth {
		return s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	if leaf {
		node = nil
	}
	s.pos++ // '['
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		s.skipWS()
		if err := s.value(node, f); err != nil {
			return err
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
			return s.errorf("want ',' or ']' in array, got %q", s.data[s.pos])
		}
	}
}

// str scans a string at pos and, when keep is set, returns its contents unescaped.
func (s *scanner) str(keep bool) ([]byte, error) {
	s.pos++ // opening quote
	start := s.pos
	escaped := false
	for {
		i := bytes.IndexByte(s.data[s.pos:], '"')
		if i < 0 {
			s.pos = len(s.data)
			shift, ok := s.fill(start)
			if !ok {
				return nil, s.endErr()
			}
			start -= shift
			continue
		}
		end := s.pos + i
		backslashes := 0
		for j := end - 1; j >= start && s.data[j] == '\\'; j-- {
			backslashes++
		}
		s.pos = end + 1
		if backslashes%2 == 0 {
			raw := s.data[start:end]
			if !keep || (!escaped && bytes.IndexByte(raw, '\\') < 0) {
				return raw, nil
			}
			return unescape(raw)
		}
		escaped = true
	}
}
