package rules

import (
	"bytes"
	"strings"
)

// op is what a condition asks of one record field.
type op int

const (
	opEquals  op = iota // the field is a string equal to one of the values (one value: equals; more: any-of)
	opPresent           // the field is a string or number, any value (CloudWatch: = "*")
	opAbsent            // the field is not in the record at all (CloudWatch: NOT EXISTS)
	opAny               // one of the alternatives (alts) holds (EventBridge: "$or"; CloudWatch: ||)
)

// param names a deployment value that a condition compares with, resolved from Params.
type param int

const (
	paramNone     param = iota
	paramTaskRole       // Params.TaskRoleARN
	// The key scope's forms (see Params.keyForms); empty means any key, and the condition is dropped.
	paramKeyRef      // requestParameters.keyId: key ARN, key id, alias name or alias ARN
	paramKeyTarget   // requestParameters.targetKeyId: key ARN or key id
	paramAliasName   // requestParameters.aliasName: alias/NAME
	paramKeyResource // resources.ARN: key ARNs and alias ARNs
	paramAppKey      // Params.AppKeyARN: the one key the app encrypts with
)

// cond is one condition on a record field. Rules hold conditions that must all be true.
type cond struct {
	field  string // dotted path from the record's root, e.g. "userIdentity.sessionContext.sessionIssuer.arn"
	op     op
	values []string // for opEquals when param is paramNone
	param  param
	alts   []cond // for opAny
	// replayOnly conditions are held by replay and left out of every deployed pattern.
	replayOnly bool
}

func equals(field string, values ...string) cond {
	return cond{field: field, op: opEquals, values: values}
}
func present(field string) cond              { return cond{field: field, op: opPresent} }
func absent(field string) cond               { return cond{field: field, op: opAbsent} }
func equalsParam(field string, p param) cond { return cond{field: field, op: opEquals, param: p} }

// fieldPaths lists the record fields the condition reads.
func (c cond) fieldPaths() []string {
	if c.op != opAny {
		return []string{c.field}
	}
	var out []string
	for _, a := range c.alts {
		out = append(out, a.fieldPaths()...)
	}
	return out
}

// resolve returns the values the condition compares with, and false when the condition
// does not apply under p (an empty key list means "any key"). For opAny it applies when any
// alternative does.
func (c cond) resolve(p Params) ([]string, bool) {
	switch c.param {
	case paramTaskRole:
		if p.TaskRoleARN == "" {
			return nil, true // no role: nothing can match it
		}
		return []string{p.TaskRoleARN}, true
	case paramAppKey:
		if p.AppKeyARN == "" {
			return nil, true // no key: nothing can match it
		}
		return []string{p.AppKeyARN}, true
	case paramKeyRef, paramKeyTarget, paramAliasName, paramKeyResource:
		exact, suffixes := p.keyForms().of(c.param)
		return exact, len(exact)+len(suffixes) > 0
	}
	if c.op == opAny {
		for _, a := range c.alts {
			if _, ok := a.resolve(p); ok {
				return nil, true
			}
		}
		return nil, false
	}
	return c.values, true
}

// suffixes are the endings that also match, for key ids and aliases whose account and Region
// replay does not know: ":key/ID" ends every ARN of that key id.
func (c cond) suffixes(p Params) []string {
	_, s := p.keyForms().of(c.param)
	return s
}

// rendered is resolve for the deployable patterns: without a task role the pattern shows
// RoleARNPlaceholder, so `kmswatch rules` can print a rule before the stack exists. A
// replay-only condition is not deployed.
func (c cond) rendered(p Params) ([]string, bool) {
	if c.replayOnly {
		return nil, false
	}
	if c.param == paramTaskRole && p.TaskRoleARN == "" {
		return []string{RoleARNPlaceholder}, true
	}
	if c.param == paramAppKey && p.AppKeyARN == "" {
		return []string{AppKeyPlaceholder}, true
	}
	return c.resolve(p)
}

// boundCond is a condition with its values resolved and its field's slot found.
type boundCond struct {
	slot     int
	op       op
	values   []string
	suffixes [][]byte
	alts     []boundCond
}

// bind resolves conds under p; replay also binds the replay-only conditions.
func bind(conds []cond, p Params, replay bool) []boundCond {
	var out []boundCond
	for _, c := range conds {
		if c.replayOnly && !replay {
			continue
		}
		values, applies := c.resolve(p)
		if !applies {
			continue
		}
		if c.op == opAny {
			out = append(out, boundCond{op: opAny, alts: bind(c.alts, p, replay)})
			continue
		}
		var ends [][]byte
		for _, s := range c.suffixes(p) {
			ends = append(ends, []byte(s))
		}
		out = append(out, boundCond{slot: recordFields.mustSlot(c.field), op: c.op, values: values, suffixes: ends})
	}
	return out
}

func (b boundCond) holds(f *fields) bool {
	switch b.op {
	case opAny:
		for _, a := range b.alts {
			if a.holds(f) {
				return true
			}
		}
		return false
	case opPresent:
		// CloudWatch's selector must point at a value node (string or number); null, objects and
		// arrays do not match "*".
		for _, v := range f.slots[b.slot] {
			if v.kind == kindString || v.kind == kindNumber {
				return true
			}
		}
		return false
	case opAbsent:
		return len(f.slots[b.slot]) == 0 // null is present: NOT EXISTS is false for it
	default:
		for _, v := range f.slots[b.slot] {
			if v.kind != kindString {
				continue
			}
			for _, want := range b.values {
				if string(v.text) == want {
					return true
				}
			}
			for _, end := range b.suffixes {
				if bytes.HasSuffix(v.text, end) {
					return true
				}
			}
		}
		return false
	}
}

func allHold(conds []boundCond, f *fields) bool {
	for _, c := range conds {
		if !c.holds(f) {
			return false
		}
	}
	return true
}

// Matches reports whether the record satisfies the rule's condition under p, as the deployed
// patterns would: replay-only scopes are left out (replay's Matcher holds them).
// A rule without conditions (a metric-math rule, whose inputs have them) matches no record.
func (r Rule) Matches(rec Record, p Params) bool {
	if rec.f == nil || len(r.when) == 0 {
		return false
	}
	return allHold(bind(r.when, p, false), rec.f)
}

// CountsIn is the input of a metric-math rule that the record counts in ("kms", "served"), or "".
func (r Rule) CountsIn(rec Record, p Params) string {
	for _, in := range r.InputRules() {
		if in.Matches(rec, p) {
			_, id, _ := strings.Cut(in.ID, "/")
			return id
		}
	}
	return ""
}

// Matcher runs a rule set on many records with conditions bound once. It is what replay runs:
// the rules as deployed and the replay-only scopes (kms-key-disable-or-delete's key scope).
type Matcher struct {
	rules []Rule
	conds [][]boundCond
}

// NewMatcher binds the rules' conditions to p.
func NewMatcher(rules []Rule, p Params) *Matcher {
	m := &Matcher{rules: rules, conds: make([][]boundCond, len(rules))}
	for i, r := range rules {
		m.conds[i] = bind(r.when, p, true)
	}
	return m
}

// Rules returns the matcher's rules, in the order Match reports indexes.
func (m *Matcher) Rules() []Rule { return m.rules }

// Match appends to hits the index of each rule the record satisfies.
func (m *Matcher) Match(rec Record, hits []int) []int {
	if rec.f == nil {
		return hits
	}
	for i, conds := range m.conds {
		if len(m.rules[i].when) > 0 && allHold(conds, rec.f) {
			hits = append(hits, i)
		}
	}
	return hits
}
