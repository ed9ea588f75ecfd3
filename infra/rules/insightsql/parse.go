// Package insightsql parses the subset of the CloudWatch Logs Insights query language that
// kmswatch writes (the rules' queries and the dashboard's log widgets), so that tests can refuse a
// query CloudWatch would refuse without an AWS account to run it in. It follows the query syntax
// reference:
//
//   - commands separated by "|": fields, display, filter, stats [by], sort [asc|desc], limit,
//     parse (a glob string or a /regex/, then "as" names); lines that start with "#" are comments;
//   - fields named as written, with @, dots and digits, or in backticks when they hold other
//     characters; strings in single or double quotes; /regular expressions/; time periods such
//     as 5m and 1h;
//   - operators or, and, not; = != < <= > >=; like and not like (a string or a /regex/), =~ (a
//     /regex/), in and not in [a list]; + - * / ^ %; aliases with "as" in fields, display, stats
//     and by;
//   - only the documented functions, aggregations (count, sum, ...) only in stats.
//
// A dashboard log widget's query starts with the log groups, each as SOURCE 'name' followed by
// "|" (Dashboard Body Structure and Syntax, "Properties of a Log Widget Object").
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
package insightsql

import (
	"fmt"
	"strings"
)

// MaxQueryLength is StartQuery's limit on a query string.
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html
const MaxQueryLength = 10000

// Query is a parsed query: the log groups its SOURCE clauses name, and its commands in order.
type Query struct {
	Sources  []string
	Commands []string // "fields", "filter", "stats", ...
}

// Parse reads a query, with or without SOURCE clauses, and returns the first error with its
// byte offset.
func Parse(q string) (Query, error) {
	if len(q) > MaxQueryLength {
		return Query{}, fmt.Errorf("query of %d characters: StartQuery takes at most %d", len(q), MaxQueryLength)
	}
	p := &parser{src: q}
	var out Query
	for p.peekWord("source") {
		p.next()
		t := p.next()
		if t.kind != tokString {
			return Query{}, p.errAt(t, "SOURCE wants a quoted log group name, got %q", t.text)
		}
		out.Sources = append(out.Sources, t.value)
		if t := p.next(); t.kind != tokPipe {
			return Query{}, p.errAt(t, "a | after SOURCE '%s', got %q", out.Sources[len(out.Sources)-1], t.text)
		}
	}
	for {
		name, err := p.command()
		if err != nil {
			return Query{}, err
		}
		out.Commands = append(out.Commands, name)
		t := p.next()
		if t.kind == tokEOF {
			return out, nil
		}
		if t.kind != tokPipe {
			return Query{}, p.errAt(t, "%q after the %s command; commands are separated by |", t.text, name)
		}
	}
}

type parser struct {
	src     string
	pos     int
	inStats bool // aggregation functions are allowed
	aggs    int  // aggregation calls seen in the current stats command
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", t.pos, fmt.Sprintf(format, args...))
}

func (p *parser) command() (string, error) {
	t := p.next()
	if t.kind != tokIdent {
		return "", p.errAt(t, "a command (fields, filter, stats, sort, limit, display, parse), got %q", t.text)
	}
	name := strings.ToLower(t.text)
	switch name {
	case "fields", "display":
		return name, p.items(false)
	case "filter":
		err := p.expr()
		return name, err
	case "stats":
		p.inStats, p.aggs = true, 0
		err := p.items(true)
		p.inStats = false
		if err == nil && p.aggs == 0 {
			err = p.errAt(t, "stats without an aggregation function (count, sum, avg, ...)")
		}
		return name, err
	case "sort":
		for {
			if err := p.expr(); err != nil {
				return name, err
			}
			if p.peekWord("asc") || p.peekWord("desc") {
				p.next()
			}
			if !p.accept(tokComma) {
				return name, nil
			}
		}
	case "limit":
		n := p.next()
		if n.kind != tokNumber || strings.Contains(n.text, ".") || n.text == "0" {
			return name, p.errAt(n, "limit wants a whole number of rows, got %q", n.text)
		}
		return name, nil
	case "parse":
		return name, p.parseCommand()
	}
	return "", p.errAt(t, "unknown command %q", t.text)
}

// items reads "expr [as alias], ..." and, for stats, "by expr [as alias], ...".
func (p *parser) items(stats bool) error {
	for {
		if err := p.expr(); err != nil {
			return err
		}
		if err := p.alias(); err != nil {
			return err
		}
		if p.accept(tokComma) {
			continue
		}
		if stats && p.peekWord("by") {
			p.next()
			p.inStats, stats = false, false // grouping terms are not aggregations
			continue
		}
		return nil
	}
}

func (p *parser) alias() error {
	if !p.peekWord("as") {
		return nil
	}
	p.next()
	if t := p.next(); t.kind != tokIdent {
		return p.errAt(t, "a name after as, got %q", t.text)
	}
	return nil
}

// parseCommand reads "parse [field] glob [as] names" or "parse [field] /regex/": the field may
// be left out (the reference's log widget example reads @message so, and names the fields
// without "as"). The field is one name, not an expression: a / after it starts the pattern.
func (p *parser) parseCommand() error {
	if f := p.peek(); f.kind == tokIdent || f.kind == tokBacktick {
		p.next()
	}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '/' {
		_, err := p.regex() // a regex names its fields with (?<name>...)
		return err
	}
	if t := p.next(); t.kind != tokString {
		return p.errAt(t, "parse wants a glob string or a /regex/, got %q", t.text)
	}
	if p.peekWord("as") {
		p.next()
	}
	for {
		if t := p.next(); t.kind != tokIdent {
			return p.errAt(t, "a field name for each * of the glob, got %q", t.text)
		}
		if !p.accept(tokComma) {
			return nil
		}
	}
}

// Expressions, loosest first: or, and, not, comparison, + -, * / %, ^, unary -, operand.

func (p *parser) expr() error { return p.binary(0) }

var levels = []string{"or", "and"}

func (p *parser) binary(level int) error {
	if level == len(levels) {
		return p.not()
	}
	err := p.binary(level + 1)
	for err == nil && p.peekWord(levels[level]) {
		p.next()
		err = p.binary(level + 1)
	}
	return err
}

func (p *parser) not() error {
	if p.peekWord("not") {
		p.next()
		return p.not()
	}
	return p.comparison()
}

func (p *parser) comparison() error {
	if err := p.arith(0); err != nil {
		return err
	}
	negated := p.peekWord("not")
	if negated {
		p.next()
	}
	t := p.peek()
	switch {
	case t.kind == tokIdent && strings.EqualFold(t.text, "like"):
		p.next()
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == '/' {
			_, err := p.regex()
			return err
		}
		if s := p.next(); s.kind != tokString {
			return p.errAt(s, "like wants a string or a /regex/, got %q", s.text)
		}
		return nil
	case t.kind == tokIdent && strings.EqualFold(t.text, "in"):
		p.next()
		return p.list()
	case negated:
		return p.errAt(t, "not after a value must be followed by like or in, got %q", t.text)
	case t.kind == tokOp && t.text == "=~":
		p.next()
		p.skipSpace()
		_, err := p.regex()
		return err
	case t.kind == tokOp && comparisons[t.text]:
		p.next()
		return p.arith(0)
	}
	return nil
}

var comparisons = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

var arithLevels = []string{"+-", "*/%", "^"}

func (p *parser) arith(level int) error {
	if level == len(arithLevels) {
		return p.unary()
	}
	err := p.arith(level + 1)
	for err == nil {
		t := p.peek()
		if t.kind != tokOp || len(t.text) != 1 || !strings.Contains(arithLevels[level], t.text) {
			break
		}
		p.next()
		err = p.arith(level + 1)
	}
	return err
}

func (p *parser) unary() error {
	if t := p.peek(); t.kind == tokOp && t.text == "-" {
		p.next()
	}
	return p.operand()
}

func (p *parser) operand() error {
	t := p.next()
	switch t.kind {
	case tokNumber, tokString, tokPeriod:
		return nil
	case tokLParen:
		if err := p.expr(); err != nil {
			return err
		}
		if c := p.next(); c.kind != tokRParen {
			return p.errAt(c, "a ) to close the ( at offset %d, got %q", t.pos, c.text)
		}
		return nil
	case tokIdent, tokBacktick:
		if t.kind == tokIdent && p.peek().kind == tokLParen {
			return p.call(t)
		}
		if t.kind == tokIdent && reserved[strings.ToLower(t.text)] {
			return p.errAt(t, "%q where a field or value belongs", t.text)
		}
		return nil
	}
	return p.errAt(t, "a field, value or function, got %q", t.text)
}

func (p *parser) call(name token) error {
	fn := strings.ToLower(name.text)
	sig, ok := functions[fn]
	if !ok {
		return p.errAt(name, "unknown function %s()", name.text)
	}
	if sig.aggregate {
		if !p.inStats {
			return p.errAt(name, "%s() aggregates: only in stats", name.text)
		}
		p.aggs++
	}
	p.next() // (
	n := 0
	if c := p.peek(); c.kind == tokRParen {
		p.next()
	} else {
		for {
			if t := p.peek(); t.kind == tokOp && t.text == "*" && fn == "count" {
				p.next()
			} else if err := p.expr(); err != nil {
				return err
			}
			n++
			if p.accept(tokComma) {
				continue
			}
			if c := p.next(); c.kind != tokRParen {
				return p.errAt(c, "a , or ) in %s(), got %q", name.text, c.text)
			}
			break
		}
	}
	if n < sig.min || (sig.max >= 0 && n > sig.max) {
		return p.errAt(name, "%s() takes %s arguments, got %d", name.text, sig.arity(), n)
	}
	return nil
}

func (p *parser) list() error {
	if t := p.next(); t.kind != tokLBracket {
		return p.errAt(t, "in wants a [list], got %q", t.text)
	}
	for {
		v := p.next()
		if v.kind != tokString && v.kind != tokNumber {
			return p.errAt(v, "a string or number in the list, got %q", v.text)
		}
		if p.accept(tokComma) {
			continue
		}
		if c := p.next(); c.kind != tokRBracket {
			return p.errAt(c, "a , or ] in the list, got %q", c.text)
		}
		return nil
	}
}
