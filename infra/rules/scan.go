package rules

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A JSON scanner that extracts only the record fields the rules and the replay summary read, and
// skips everything else without building it. On the replay corpus it took 0.29 s single-threaded
// for 221 MB where fastjson's full parse (which builds every requestParameters tree) took 0.62 s,
// and parsing is most of replay's time. It checks JSON structure as it goes, so a malformed file is
// still reported; escapes are decoded (and checked) only in the strings it keeps.

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

// scanner walks one JSON document. Extracted values point into data (or into fresh memory when
// a string had escapes), so they are valid until data changes.
type scanner struct {
	data  []byte
	pos   int
	depth int
	idx   *fieldIndex
}

const maxDepth = 512

var errUnexpectedEnd = errors.New("unexpected end of data")

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object scans an object whose '{' is at pos, extracting into f the paths below node. onKey, if
// set, sees each key first and may consume its value itself (returning true).
func (s *scanner) object(node *pathNode, f *fields, onKey func(key []byte) (bool, error)) error {
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
			return errUnexpectedEnd
		}
		if s.data[s.pos] != '"' {
			return s.errorf("want an object key, got %q", s.data[s.pos])
		}
		key, err := s.str(true)
		if err != nil {
			return err
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
		}
		if s.data[s.pos] != ':' {
			return s.errorf("want ':' after object key")
		}
		s.pos++
		s.skipWS()
		consumed := false
		if onKey != nil {
			if consumed, err = onKey(key); err != nil {
				return err
			}
		}
		if !consumed {
			var child *pathNode
			if node != nil {
				child = node.child(key)
			}
			if err := s.value(child, f); err != nil {
				return err
			}
		}
		// The ',' or close check is written out here, in the array loop and in reader.go on
		// purpose: a shared helper does not inline and cost ~5% on BenchmarkReplay.
		s.skipWS()
		if s.pos >= len(s.data) {
			return errUnexpectedEnd
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
		return errUnexpectedEnd
	}
	start := s.pos
	c := s.data[s.pos]
	leaf := node != nil && node.slot >= 0
	switch {
	case c == '{':
		if leaf {
			if err := s.object(nil, nil, nil); err != nil {
				return err
			}
			f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kindOther})
			return nil
		}
		return s.object(node, f, nil)
	case c == '[':
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
		for _, lit := range []string{"true", "false", "null"} {
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
		for s.pos < len(s.data) && strings.IndexByte("0123456789+-.eE", s.data[s.pos]) >= 0 {
			s.pos++
		}
		if leaf {
			f.slots[node.slot] = append(f.slots[node.slot], fieldValue{kind: kindNumber, text: s.data[start:s.pos]})
		}
		return nil
	}
	return s.errorf("unexpected %q", c)
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
			return errUnexpectedEnd
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
			return nil, errUnexpectedEnd
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

// unescape decodes JSON string escapes into fresh memory.
func unescape(raw []byte) ([]byte, error) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i >= len(raw) {
			return nil, errors.New("bad escape at end of string")
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, ok := decodeU(raw[i+1:])
			if !ok {
				return nil, errors.New(`bad \u escape in string`)
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			return nil, fmt.Errorf("bad escape \\%c in string", raw[i])
		}
	}
	return out, nil
}

// decodeU decodes the hex digits after \u, joining a surrogate pair; n is the bytes used.
func decodeU(b []byte) (r rune, n int, ok bool) {
	hex := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		var v rune
		for _, c := range b[:4] {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | rune(c-'0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | rune(c-'a'+10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return v, true
	}
	r, ok = hex(b)
	if !ok {
		return 0, 0, false
	}
	if utf16.IsSurrogate(r) && len(b) >= 10 && b[4] == '\\' && b[5] == 'u' {
		if r2, ok2 := hex(b[6:]); ok2 && r2 >= 0xDC00 && r2 <= 0xDFFF {
			return utf16.DecodeRune(r, r2), 10, true
		}
	}
	return r, 4, true
}
