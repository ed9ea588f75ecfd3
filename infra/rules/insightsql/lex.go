package insightsql

import (
	"fmt"
	"regexp"
	"strings"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokBacktick // `a-field`
	tokString   // 'x' or "x"; value holds the text without quotes and escapes
	tokNumber
	tokPeriod // 5m, 1h
	tokOp     // = != < <= > >= =~ + - * / ^ %
	tokPipe
	tokComma
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokBad
)

type token struct {
	kind  tokKind
	text  string // as written
	value string // strings: unquoted
	pos   int
}

// periodUnits are the time units of a period such as bin(5m): the reference names minutes and
// hours; seconds and days are read too.
var periodUnits = []string{"s", "m", "h", "d"}

// regex reads /.../ at the cursor; \/ is a slash inside it. RE2 must read the pattern: Insights
// runs Hyperscan, whose syntax is close to RE2's for the patterns kmswatch writes.
func (p *parser) regex() (string, error) {
	start := p.pos
	if p.pos >= len(p.src) || p.src[p.pos] != '/' {
		return "", fmt.Errorf("offset %d: a /regex/ here", start)
	}
	var b strings.Builder
	for i := start + 1; i < len(p.src); i++ {
		switch c := p.src[i]; {
		case c == '\\' && i+1 < len(p.src):
			if p.src[i+1] != '/' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.src[i+1])
			i++
		case c == '/':
			p.pos = i + 1
			if _, err := regexp.Compile(b.String()); err != nil {
				return "", fmt.Errorf("offset %d: regex /%s/: %w", start, b.String(), err)
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("offset %d: a /regex/ that never ends", start)
}

func (p *parser) accept(k tokKind) bool {
	if p.peek().kind == k {
		p.next()
		return true
	}
	return false
}

func (p *parser) peekWord(w string) bool {
	t := p.peek()
	return t.kind == tokIdent && strings.EqualFold(t.text, w)
}

func (p *parser) peek() token {
	save := p.pos
	t := p.next()
	p.pos = save
	return t
}

// skipSpace skips white space and comment lines (a # first on its line, after white space).
func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '#' && p.atLineStart():
			end := strings.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end
			}
		default:
			return
		}
	}
}

func (p *parser) atLineStart() bool {
	for i := p.pos - 1; i >= 0; i-- {
		switch p.src[i] {
		case '\n':
			return true
		case ' ', '\t', '\r':
			continue
		}
		return false
	}
	return true
}

func (p *parser) next() token {
	p.skipSpace()
	start := p.pos
	if start >= len(p.src) {
		return token{kind: tokEOF, text: "end of query", pos: start}
	}
	c := p.src[start]
	tok := func(k tokKind, n int) token {
		p.pos = start + n
		return token{kind: k, text: p.src[start:p.pos], pos: start}
	}
	switch {
	case c == '|':
		return tok(tokPipe, 1)
	case c == ',':
		return tok(tokComma, 1)
	case c == '(':
		return tok(tokLParen, 1)
	case c == ')':
		return tok(tokRParen, 1)
	case c == '[':
		return tok(tokLBracket, 1)
	case c == ']':
		return tok(tokRBracket, 1)
	case c == '\'' || c == '"':
		return p.quoted(c)
	case c == '`':
		end := strings.IndexByte(p.src[start+1:], '`')
		if end < 0 {
			return tok(tokBad, len(p.src)-start)
		}
		return tok(tokBacktick, end+2)
	case isDigit(c):
		n := 1
		for start+n < len(p.src) && (isDigit(p.src[start+n]) || p.src[start+n] == '.') {
			n++
		}
		for _, u := range periodUnits {
			if strings.HasPrefix(p.src[start+n:], u) && !isNameChar(at(p.src, start+n+len(u))) {
				return tok(tokPeriod, n+len(u))
			}
		}
		return tok(tokNumber, n)
	case isNameChar(c):
		n := 1
		for isNameChar(at(p.src, start+n)) {
			n++
		}
		return tok(tokIdent, n)
	}
	for _, op := range []string{"!=", "<=", ">=", "=~", "=", "<", ">", "+", "-", "*", "/", "^", "%"} {
		if strings.HasPrefix(p.src[start:], op) {
			return tok(tokOp, len(op))
		}
	}
	return tok(tokBad, 1)
}

func (p *parser) quoted(q byte) token {
	start := p.pos
	var b strings.Builder
	for i := start + 1; i < len(p.src); i++ {
		switch c := p.src[i]; {
		case c == '\\' && i+1 < len(p.src):
			b.WriteByte(p.src[i+1])
			i++
		case c == q:
			p.pos = i + 1
			return token{kind: tokString, text: p.src[start:p.pos], value: b.String(), pos: start}
		default:
			b.WriteByte(c)
		}
	}
	p.pos = len(p.src)
	return token{kind: tokBad, text: fmt.Sprintf("an unterminated string %s", p.src[start:min(len(p.src), start+20)]), pos: start}
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isNameChar: a field name holds letters, digits, @, _ and dots; anything else needs backticks.
func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '@' || c == '_' || c == '.'
}

// reserved words cannot stand for a field.
var reserved = map[string]bool{"and": true, "or": true, "not": true, "like": true, "in": true,
	"as": true, "by": true, "asc": true, "desc": true}

// signature is a function's argument count (max -1: any number) and whether it aggregates.
type signature struct {
	min, max  int
	aggregate bool
}

func (s signature) arity() string {
	switch {
	case s.max < 0:
		return fmt.Sprintf("at least %d", s.min)
	case s.min == s.max:
		return fmt.Sprint(s.min)
	}
	return fmt.Sprintf("%d to %d", s.min, s.max)
}

// functions are the reference's numeric, general, string, datetime, IP address and stats
// functions, with their arguments.
var functions = map[string]signature{
	"abs": {1, 1, false}, "ceil": {1, 1, false}, "floor": {1, 1, false}, "greatest": {1, -1, false},
	"least": {1, -1, false}, "log": {1, 1, false}, "sqrt": {1, 1, false},
	"ispresent": {1, 1, false}, "coalesce": {1, -1, false},
	"isempty": {1, 1, false}, "isblank": {1, 1, false}, "concat": {1, -1, false},
	"ltrim": {1, 2, false}, "rtrim": {1, 2, false}, "trim": {1, 2, false}, "strlen": {1, 1, false},
	"toupper": {1, 1, false}, "tolower": {1, 1, false}, "substr": {2, 3, false},
	"replace": {3, 3, false}, "strcontains": {2, 2, false},
	"bin": {1, 1, false}, "datefloor": {2, 2, false}, "dateceil": {2, 2, false},
	"frommillis": {1, 1, false}, "tomillis": {1, 1, false},
	"isvalidip": {1, 1, false}, "isvalidipv4": {1, 1, false}, "isvalidipv6": {1, 1, false},
	"isipinsubnet": {2, 2, false}, "isipv4insubnet": {2, 2, false}, "isipv6insubnet": {2, 2, false},
	"avg": {1, 1, true}, "count": {0, 1, true}, "count_distinct": {1, 1, true}, "max": {1, 1, true},
	"min": {1, 1, true}, "pct": {2, 2, true}, "stddev": {1, 1, true}, "sum": {1, 1, true},
	"earliest": {1, 1, true}, "latest": {1, 1, true}, "sortsfirst": {1, 1, true}, "sortslast": {1, 1, true},
}
