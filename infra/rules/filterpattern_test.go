package rules

// A small, independent evaluator of the CloudWatch Logs JSON filter-pattern syntax that
// FilterPattern emits, used as an oracle: the rendered pattern, parsed and run on a record, must
// give the matcher's answer. It decodes records with encoding/json (not fastjson) on purpose.
//
// Syntax, from https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html:
//   - { SELECTOR = STRING } / !=; a selector starts at $ and must point at a value node (string or
//     number): on an object, array or null both = and != fail;
//   - STRING with or without double quotes; "*" matches any text at, before or after the term;
//   - { $.x IS NULL } is true only when x is set to null; { $.x NOT EXISTS } only when x is absent;
//   - && and || with parentheses; precedence () > && > ||.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

type cwExpr interface{ eval(rec any) bool }

type cwAnd struct{ l, r cwExpr }
type cwOr struct{ l, r cwExpr }
type cwCmp struct {
	sel   []string // keys, or "[N]" for array indexes
	op    string   // "=", "!=", "NOT EXISTS", "IS NULL", "EXISTS"
	value string
}

func (e cwAnd) eval(rec any) bool { return e.l.eval(rec) && e.r.eval(rec) }
func (e cwOr) eval(rec any) bool  { return e.l.eval(rec) || e.r.eval(rec) }

func (e cwCmp) eval(rec any) bool {
	v, found := cwSelect(rec, e.sel)
	switch e.op {
	case "NOT EXISTS":
		return !found
	case "EXISTS":
		return found
	case "IS NULL":
		return found && v == nil
	}
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		text = x.String()
	default: // missing, null, bool, object, array: not a value node
		return false
	}
	eq := cwWildcardEqual(e.value, text)
	if e.op == "!=" {
		return !eq
	}
	return eq
}

func cwWildcardEqual(pattern, text string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*") && len(pattern) > 1:
		return strings.Contains(text, pattern[1:len(pattern)-1])
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(text, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(text, pattern[:len(pattern)-1])
	}
	return pattern == text
}

func cwSelect(rec any, sel []string) (any, bool) {
	v := rec
	for _, s := range sel {
		if strings.HasPrefix(s, "[") {
			i, _ := strconv.Atoi(s[1 : len(s)-1])
			arr, ok := v.([]any)
			if !ok || i >= len(arr) {
				return nil, false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[s]; !ok {
			return nil, false
		}
	}
	return v, true
}

type cwParser struct {
	src string
	pos int
}

func parseCWPattern(src string) (cwExpr, error) {
	p := &cwParser{src: src}
	if !p.eat("{") {
		return nil, p.errorf("want {")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.eat("}") {
		return nil, p.errorf("want }")
	}
	if p.skipSpace(); p.pos != len(p.src) {
		return nil, p.errorf("trailing text")
	}
	return e, nil
}

func (p *cwParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at %d of %q: %s", p.pos, p.src, fmt.Sprintf(format, args...))
}

func (p *cwParser) skipSpace() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

func (p *cwParser) eat(tok string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *cwParser) or() (cwExpr, error) {
	l, err := p.and()
	for err == nil && p.eat("||") {
		var r cwExpr
		if r, err = p.and(); err == nil {
			l = cwOr{l, r}
		}
	}
	return l, err
}

func (p *cwParser) and() (cwExpr, error) {
	l, err := p.primary()
	for err == nil && p.eat("&&") {
		var r cwExpr
		if r, err = p.primary(); err == nil {
			l = cwAnd{l, r}
		}
	}
	return l, err
}

func (p *cwParser) primary() (cwExpr, error) {
	if p.eat("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.errorf("want )")
		}
		return e, nil
	}
	return p.comparison()
}

func (p *cwParser) comparison() (cwExpr, error) {
	if !p.eat("$") {
		return nil, p.errorf("want a selector")
	}
	var sel []string
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '.':
			p.pos++
			start := p.pos
			for p.pos < len(p.src) && (isSelectorChar(rune(p.src[p.pos]))) {
				p.pos++
			}
			if start == p.pos {
				return nil, p.errorf("empty property")
			}
			sel = append(sel, p.src[start:p.pos])
			continue
		case '[':
			end := strings.IndexByte(p.src[p.pos:], ']')
			if end < 0 {
				return nil, p.errorf("unclosed [")
			}
			sel = append(sel, p.src[p.pos:p.pos+end+1])
			p.pos += end + 1
			continue
		}
		break
	}
	for _, op := range []string{"NOT EXISTS", "IS NULL", "EXISTS", "!=", "="} {
		if p.eat(op) {
			if op != "=" && op != "!=" {
				return cwCmp{sel: sel, op: op}, nil
			}
			v, err := p.value()
			return cwCmp{sel: sel, op: op, value: v}, err
		}
	}
	return nil, p.errorf("want an operator")
}

func isSelectorChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_'
}

// value reads a quoted string (with \" and \\ escapes) or a bare one up to a space or bracket.
func (p *cwParser) value() (string, error) {
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		var b strings.Builder
		for p.pos++; p.pos < len(p.src); p.pos++ {
			switch c := p.src[p.pos]; c {
			case '\\':
				p.pos++
				if p.pos < len(p.src) {
					b.WriteByte(p.src[p.pos])
				}
			case '"':
				p.pos++
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", p.errorf("unclosed quote")
	}
	start := p.pos
	for p.pos < len(p.src) && !strings.ContainsRune(" ()&|}", rune(p.src[p.pos])) {
		p.pos++
	}
	if start == p.pos {
		return "", p.errorf("want a value")
	}
	return p.src[start:p.pos], nil
}

func cwMatches(t testing.TB, pattern string, record []byte) bool {
	t.Helper()
	e, err := parseCWPattern(pattern)
	if err != nil {
		t.Fatalf("parse pattern: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(record)))
	dec.UseNumber()
	var rec any
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("decode record: %v", err)
	}
	return e.eval(rec)
}

// TestOracleOnDocExamples checks the oracle itself against the examples in AWS's syntax page.
func TestOracleOnDocExamples(t *testing.T) {
	doc := []byte(`{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111","arrayKey":["value","another value"],
		"objectList":[{"name":"a","id":1},{"name":"b","id":2}],"SomeObject":null,"ThisFlag":true,
		"user":{"id":1,"email":"John.Stiles@example.com"},"users":[{"id":2,"email":"John.Doe@example.com"}],
		"actions":["GET","PUT","DELETE"]}`)
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{`{ $.eventType = "UpdateTrail" }`, true},
		{`{ $.sourceIPAddress != 123.123.* }`, true},
		{`{ $.arrayKey[0] = "value" }`, true},
		{`{ $.objectList[1].id = 2 }`, true},
		{`{ $.SomeObject IS NULL }`, true},
		{`{ $.SomeOtherObject NOT EXISTS }`, true},
		{`{ $.SomeObject NOT EXISTS }`, false},
		{`{ $.eventType = "*" }`, true},
		{`{ $.SomeObject = "*" }`, false},
		{`{ $.user = "*" }`, false},
		{`{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }`, true},
		{`{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }`, false},
		{`{ $.user.email = "John.Stiles@example.com" || $.users[0].id = nonmatch && $.actions[2] = nomatch }`, true},
		{`{ ($.user.email = "John.Stiles@example.com" || $.users[0].id = nonmatch) && $.actions[2] = nomatch }`, false},
	} {
		if got := cwMatches(t, tc.pattern, doc); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}

// TestPatternAgreesWithMatcher runs every rendered pattern through the oracle on every sample
// and every rule's own test record, and compares with the Go matcher.
func TestPatternAgreesWithMatcher(t *testing.T) {
	var records [][]byte
	for _, name := range []string{
		"ebs-attach-encrypted-volume.json", "kms-creategrant.json", "kms-decrypt-incorrectkey-iamuser.json",
		"kms-decrypt-invalidstate-iamuser.json", "kms-decrypt-success-iamuser.json", "kms-deletekey-serviceevent.json",
		"kms-disablekey.json", "kms-encrypt-iamuser.json", "kms-putkeypolicy.json", "kms-schedulekeydeletion.json",
		"lab-decrypt-incorrectkey-taskrole.json",
	} {
		records = append(records, mustSampleRecords(t, name)...)
	}
	for _, r := range Default() {
		for _, c := range r.Cases() {
			if c.Record != "" {
				records = append(records, []byte(c.Record))
			}
		}
	}
	var deployed []Rule // the rules whose pattern a metric filter holds, and the filters metric rules depend on
	for _, r := range Default() {
		switch r.Source {
		case TrailLogs, AppLogs:
			deployed = append(deployed, r)
		case Metrics:
			for i, in := range r.InputRules() {
				if r.metrics.inputs[i].published {
					deployed = append(deployed, in)
				}
			}
		}
	}
	for _, r := range deployed {
		for _, p := range []Params{labParams, {}, {TaskRoleARN: "arn:aws:iam::111122223333:role/other"}} {
			pattern := r.FilterPattern(p)
			matched := 0
			for _, data := range records {
				want := r.Matches(mustParse(t, data), p)
				if got := cwMatches(t, pattern, data); got != want {
					t.Errorf("%s with role %q: pattern says %v, matcher says %v on\n%s", r.ID, p.TaskRoleARN, got, want, data)
				}
				if want {
					matched++
				}
			}
			if p.TaskRoleARN == labTaskRole && matched == 0 {
				t.Errorf("%s: no record matched, so the comparison proves little", r.ID)
			}
		}
	}
}
