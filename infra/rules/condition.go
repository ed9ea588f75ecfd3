package rules

// op is what a condition asks of one record field.
type op int

const (
	opEquals  op = iota // the field is a string equal to one of the values (one value: equals; more: any-of)
	opPresent           // the field is a string or number, any value (CloudWatch: = "*")
	opAbsent            // the field is not in the record at all (CloudWatch: NOT EXISTS)
)

// param names a deployment value that a condition compares with, resolved from Params.
type param int

const (
	paramNone     param = iota
	paramTaskRole       // Params.TaskRoleARN
	paramKeyARNs        // Params.KeyARNs; empty means any key, and the condition is dropped
)

// cond is one condition on a record field. Rules hold conditions that must all be true.
type cond struct {
	field  string // dotted path from the record's root, e.g. "userIdentity.sessionContext.sessionIssuer.arn"
	op     op
	values []string // for opEquals when param is paramNone
	param  param
}

func equals(field string, values ...string) cond {
	return cond{field: field, op: opEquals, values: values}
}
func present(field string) cond              { return cond{field: field, op: opPresent} }
func absent(field string) cond               { return cond{field: field, op: opAbsent} }
func equalsParam(field string, p param) cond { return cond{field: field, op: opEquals, param: p} }

// resolve returns the values the condition compares with, and false when the condition
// does not apply under p (an empty key list means "any key").
func (c cond) resolve(p Params) ([]string, bool) {
	switch c.param {
	case paramTaskRole:
		if p.TaskRoleARN == "" {
			return nil, true // no role: nothing can match it
		}
		return []string{p.TaskRoleARN}, true
	case paramKeyARNs:
		return p.KeyARNs, len(p.KeyARNs) > 0
	}
	return c.values, true
}

// rendered is resolve for the deployable patterns: without a task role the pattern shows
// RoleARNPlaceholder, so `kmswatch rules` can print a rule before the stack exists.
func (c cond) rendered(p Params) ([]string, bool) {
	if c.param == paramTaskRole && p.TaskRoleARN == "" {
		return []string{RoleARNPlaceholder}, true
	}
	return c.resolve(p)
}

// boundCond is a condition with its values resolved and its field's slot found.
type boundCond struct {
	slot   int
	op     op
	values []string
}

func bind(conds []cond, p Params) []boundCond {
	var out []boundCond
	for _, c := range conds {
		values, applies := c.resolve(p)
		if !applies {
			continue
		}
		out = append(out, boundCond{slot: recordFields.mustSlot(c.field), op: c.op, values: values})
	}
	return out
}

func (b boundCond) holds(f *fields) bool {
	found := f.slots[b.slot]
	switch b.op {
	case opPresent:
		// CloudWatch's selector must point at a value node (string or number); null, objects and
		// arrays do not match "*".
		for _, v := range found {
			if v.kind == kindString || v.kind == kindNumber {
				return true
			}
		}
		return false
	case opAbsent:
		return len(found) == 0 // null is present: NOT EXISTS is false for it
	default:
		for _, v := range found {
			if v.kind != kindString {
				continue
			}
			for _, want := range b.values {
				if string(v.text) == want {
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

// Matches reports whether the record satisfies the rule's condition under p.
func (r Rule) Matches(rec Record, p Params) bool {
	if rec.f == nil {
		return false
	}
	return allHold(bind(r.when, p), rec.f)
}

// Matcher runs a rule set on many records with conditions bound once.
type Matcher struct {
	rules []Rule
	conds [][]boundCond
}

// NewMatcher binds the rules' conditions to p.
func NewMatcher(rules []Rule, p Params) *Matcher {
	m := &Matcher{rules: rules, conds: make([][]boundCond, len(rules))}
	for i, r := range rules {
		m.conds[i] = bind(r.when, p)
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
		if allHold(conds, rec.f) {
			hits = append(hits, i)
		}
	}
	return hits
}
