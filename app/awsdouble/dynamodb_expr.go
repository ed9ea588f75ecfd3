package awsdouble

import (
	"encoding/json"
	"slices"
	"strings"
)

// DynamoDB expressions, the subset the double evaluates, after
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
// and Expressions.UpdateExpressions.html:
//
//	condition  := or
//	or         := and { OR and }
//	and        := not { AND not }
//	not        := NOT not | primary
//	primary    := ( condition ) | attribute_exists(path) | attribute_not_exists(path)
//	            | begins_with(path, operand) | operand comparator operand | operand BETWEEN operand AND operand
//	comparator := = | <> | < | <= | > | >=
//	operand    := path | :value          path := name | #name (top-level attributes only)
//	update     := SET path = operand {, path = operand} [REMOVE path {, path}]
//
// A comparison with a missing attribute is false; for <> that is the double's choice, since the guide does
// not say. Reserved words are not checked (names are taken as written). Keywords are case-insensitive, as
// DynamoDB's are. Anything else (IN, contains, size, nested paths, ADD,
// DELETE, arithmetic, if_not_exists) is refused with a ValidationException that says the double does not
// model it, rather than evaluated wrongly.

// exprContext resolves #name and :value placeholders and notes which were used, so that unused ones are
// refused as DynamoDB refuses them.
type exprContext struct {
	names      map[string]string
	values     map[string]attrValue
	usedNames  map[string]bool
	usedValues map[string]bool
}

func newExprContext(names map[string]string, values map[string]attrValue) *exprContext {
	return &exprContext{names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
}

// unused is the ValidationException for placeholders no expression used.
func (c *exprContext) unused() *apiError {
	var names, values []string
	for k := range c.names {
		if !c.usedNames[k] {
			names = append(names, k)
		}
	}
	for k := range c.values {
		if !c.usedValues[k] {
			values = append(values, k)
		}
	}
	slices.Sort(names)
	slices.Sort(values)
	switch {
	case len(names) > 0:
		return validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(names, ", ") + "}")
	case len(values) > 0:
		return validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(values, ", ") + "}")
	}
	return nil
}

func validation(msg string) *apiError { return &apiError{"ValidationException", msg} }

// operand is a path or a value placeholder, resolved against an item.
type operand struct {
	attr  string // the attribute name a path resolves to
	value *attrValue
}

func (o operand) eval(it item) (attrValue, bool) {
	if o.value != nil {
		return *o.value, true
	}
	v, ok := it[o.attr]
	return v, ok
}

// itemCondition is a compiled condition or filter expression.
type itemCondition func(it item) bool

type exprParser struct {
	kind   string // "ConditionExpression", "FilterExpression", "UpdateExpression": for messages
	tokens []string
	pos    int
	ctx    *exprContext
}

func (p *exprParser) peek() string {
	if p.pos < len(p.tokens) {
		return p.tokens[p.pos]
	}
	return ""
}

func (p *exprParser) next() string { t := p.peek(); p.pos++; return t }

func (p *exprParser) keyword(k string) bool {
	if strings.EqualFold(p.peek(), k) {
		p.pos++
		return true
	}
	return false
}

func (p *exprParser) syntaxError() *apiError {
	tok := p.peek()
	if tok == "" {
		tok = "<EOF>"
	}
	return validation("Invalid " + p.kind + ": Syntax error; token: \"" + tok + "\", near: \"" + strings.Join(p.tokens[max(0, p.pos-1):min(len(p.tokens), p.pos+2)], " ") + "\"")
}

func (p *exprParser) notModelled(what string) *apiError {
	return validation("Invalid " + p.kind + ": awsdouble does not model " + what)
}

func (p *exprParser) expect(tok string) *apiError {
	if p.next() != tok {
		p.pos--
		return p.syntaxError()
	}
	return nil
}

// compileItemCondition parses a condition or filter expression.
func compileItemCondition(kind, expr string, ctx *exprContext) (itemCondition, *apiError) {
	tokens, aerr := tokenize(kind, expr)
	if aerr != nil {
		return nil, aerr
	}
	p := &exprParser{kind: kind, tokens: tokens, ctx: ctx}
	c, aerr := p.or()
	if aerr != nil {
		return nil, aerr
	}
	if p.pos != len(p.tokens) {
		return nil, p.syntaxError()
	}
	return c, nil
}

func (p *exprParser) or() (itemCondition, *apiError) {
	left, aerr := p.and()
	for aerr == nil && p.keyword("OR") {
		var right itemCondition
		if right, aerr = p.and(); aerr == nil {
			l, r := left, right
			left = func(it item) bool { return l(it) || r(it) }
		}
	}
	return left, aerr
}

func (p *exprParser) and() (itemCondition, *apiError) {
	left, aerr := p.not()
	for aerr == nil && p.keyword("AND") {
		var right itemCondition
		if right, aerr = p.not(); aerr == nil {
			l, r := left, right
			left = func(it item) bool { return l(it) && r(it) }
		}
	}
	return left, aerr
}

func (p *exprParser) not() (itemCondition, *apiError) {
	if p.keyword("NOT") {
		c, aerr := p.not()
		if aerr != nil {
			return nil, aerr
		}
		return func(it item) bool { return !c(it) }, nil
	}
	return p.primary()
}

func (p *exprParser) primary() (itemCondition, *apiError) {
	if p.peek() == "(" {
		p.next()
		c, aerr := p.or()
		if aerr == nil {
			aerr = p.expect(")")
		}
		return c, aerr
	}
	switch fn := strings.ToLower(p.peek()); fn {
	case "attribute_exists", "attribute_not_exists", "begins_with":
		p.next()
		return p.function(fn)
	case "attribute_type", "contains", "size":
		return nil, p.notModelled("the function " + fn)
	}
	left, aerr := p.operand()
	if aerr != nil {
		return nil, aerr
	}
	if p.keyword("BETWEEN") {
		lo, aerr := p.operand()
		if aerr == nil && !p.keyword("AND") {
			aerr = p.syntaxError()
		}
		var hi operand
		if aerr == nil {
			hi, aerr = p.operand()
		}
		if aerr != nil {
			return nil, aerr
		}
		return func(it item) bool {
			v, okV := left.eval(it)
			l, okL := lo.eval(it)
			h, okH := hi.eval(it)
			if !okV || !okL || !okH {
				return false
			}
			c1, ok1 := compareValues(v, l)
			c2, ok2 := compareValues(v, h)
			return ok1 && ok2 && c1 >= 0 && c2 <= 0
		}, nil
	}
	if strings.EqualFold(p.peek(), "IN") {
		return nil, p.notModelled("the IN comparator")
	}
	op := p.next()
	test, ok := comparators[op]
	if !ok {
		p.pos--
		return nil, p.syntaxError()
	}
	right, aerr := p.operand()
	if aerr != nil {
		return nil, aerr
	}
	return func(it item) bool {
		a, okA := left.eval(it)
		b, okB := right.eval(it)
		if !okA || !okB {
			return false
		}
		if op == "=" || op == "<>" {
			equal := a.typ == b.typ && sameJSON(a.raw, b.raw)
			return equal == (op == "=")
		}
		c, ok := compareValues(a, b)
		return ok && test(c)
	}, nil
}

var comparators = map[string]func(c int) bool{
	"=": nil, "<>": nil, // compared as values, not ordered
	"<": func(c int) bool { return c < 0 }, "<=": func(c int) bool { return c <= 0 },
	">": func(c int) bool { return c > 0 }, ">=": func(c int) bool { return c >= 0 },
}

func (p *exprParser) function(fn string) (itemCondition, *apiError) {
	if aerr := p.expect("("); aerr != nil {
		return nil, aerr
	}
	path, aerr := p.path()
	if aerr != nil {
		return nil, aerr
	}
	var prefix operand
	if fn == "begins_with" {
		if aerr := p.expect(","); aerr != nil {
			return nil, aerr
		}
		if prefix, aerr = p.operand(); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := p.expect(")"); aerr != nil {
		return nil, aerr
	}
	switch fn {
	case "attribute_exists":
		return func(it item) bool { _, ok := it[path]; return ok }, nil
	case "attribute_not_exists":
		return func(it item) bool { _, ok := it[path]; return !ok }, nil
	}
	return func(it item) bool {
		v, okV := it[path]
		pre, okP := prefix.eval(it)
		var s, ps string
		if !okV || !okP || v.typ != "S" || pre.typ != "S" || json.Unmarshal(v.raw, &s) != nil || json.Unmarshal(pre.raw, &ps) != nil {
			return false
		}
		return strings.HasPrefix(s, ps)
	}, nil
}

func (p *exprParser) operand() (operand, *apiError) {
	if tok := p.peek(); strings.HasPrefix(tok, ":") {
		p.next()
		v, ok := p.ctx.values[tok]
		if !ok {
			return operand{}, validation("Invalid " + p.kind + ": An expression attribute value used in expression is not defined; attribute value: " + tok)
		}
		p.ctx.usedValues[tok] = true
		return operand{value: &v}, nil
	}
	name, aerr := p.path()
	return operand{attr: name}, aerr
}

// path reads a top-level attribute name or #placeholder.
func (p *exprParser) path() (string, *apiError) {
	tok := p.next()
	switch {
	case tok == "" || strings.ContainsAny(tok[:1], "(),=<>:"):
		p.pos--
		return "", p.syntaxError()
	case p.peek() == "." || p.peek() == "[":
		return "", p.notModelled("nested attribute paths")
	case strings.HasPrefix(tok, "#"):
		name, ok := p.ctx.names[tok]
		if !ok {
			return "", validation("Invalid " + p.kind + ": An expression attribute name used in the document path is not defined; attribute name: " + tok)
		}
		p.ctx.usedNames[tok] = true
		return name, nil
	}
	return tok, nil
}
