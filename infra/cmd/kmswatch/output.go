package main

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonLine builds one JSON object on a line, appending to a reused buffer; replay writes up to a
// few hundred thousand of them, so it avoids encoding/json's reflection.
type jsonLine struct{ b []byte }

func (j *jsonLine) begin() { j.b = append(j.b[:0], '{') }

func (j *jsonLine) key(k string) {
	if len(j.b) > 1 {
		j.b = append(j.b, ',')
	}
	j.b = appendJSONString(j.b, k)
	j.b = append(j.b, ':')
}

func (j *jsonLine) str(k, v string) { j.key(k); j.b = appendJSONString(j.b, v) }
func (j *jsonLine) int(k string, v int) {
	j.key(k)
	j.b = strconv.AppendInt(j.b, int64(v), 10)
}
func (j *jsonLine) float(k string, v float64) {
	j.key(k)
	j.b = strconv.AppendFloat(j.b, v, 'g', -1, 64)
}
func (j *jsonLine) time(k string, t time.Time) {
	j.key(k)
	j.b = append(j.b, '"')
	j.b = t.UTC().AppendFormat(j.b, time.RFC3339)
	j.b = append(j.b, '"')
}
func (j *jsonLine) end() []byte { return append(j.b, '}', '\n') }

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		// Copy the run of bytes that need no escape at once: most of an ARN or an address.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		b = append(b, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
