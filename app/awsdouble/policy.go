package awsdouble

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The double evaluates the Deny statements of a role's inline policies, as IAM does for every request
// the role's sessions make: an explicit deny wins over any allow
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
// It does not model allows: whatever no Deny matches is allowed, so the implicit deny of an action no
// policy grants never happens here. Key policies, resource policies, SCPs, permissions boundaries and
// session policies are not evaluated either.
//
// A statement may use Action (a string or list, with * and ? wildcards, case-insensitive), Resource
// (the same, case-sensitive) and Condition with the Date operators (DateEquals, DateNotEquals, DateLessThan,
// DateLessThanEquals, DateGreaterThan, DateGreaterThanEquals) on aws:TokenIssueTime and aws:CurrentTime,
// and IpAddress / NotIpAddress on aws:SourceIp, each optionally ...IfExists
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
// A key the request does not carry (aws:TokenIssueTime for an IAM user's long-term key) makes its condition
// false, or true with IfExists. Anything else in a policy (NotAction, NotResource, other operators or keys)
// is refused at PutRolePolicy with a message that says so, rather than ignored.

// statement is one compiled Deny statement.
type statement struct {
	actions    []string // lower-cased patterns
	resources  []string
	conditions []condition
}

type condition struct {
	operator string // as written, for messages
	compare  func(ctx *requestContext) (value any, present bool)
	test     func(value any) bool // true when the condition holds for the request's value
	ifExists bool
}

// requestContext is what IAM evaluates one request against.
type requestContext struct {
	action     string // "kms:Decrypt"
	resource   string // the ARN the action is on
	tokenIssue time.Time
	hasToken   bool
	now        time.Time
	sourceIP   string
}

// explicitlyDenied reports whether any statement denies the request.
func explicitlyDenied(denies []statement, rc *requestContext) bool {
	for i := range denies {
		if denies[i].matches(rc) {
			return true
		}
	}
	return false
}

func (st *statement) matches(rc *requestContext) bool {
	if !matchAny(st.actions, strings.ToLower(rc.action)) || !matchAny(st.resources, rc.resource) {
		return false
	}
	for _, c := range st.conditions {
		v, ok := c.compare(rc)
		if !ok {
			if !c.ifExists {
				return false
			}
			continue
		}
		if !c.test(v) {
			return false
		}
	}
	return true
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against p, where * is any run of characters and ? any one character.
func wildcardMatch(p, s string) bool {
	px, sx := 0, 0
	star, resume := -1, 0
	for sx < len(s) {
		switch {
		case px < len(p) && (p[px] == '?' || p[px] == s[sx]):
			px++
			sx++
		case px < len(p) && p[px] == '*':
			star, resume = px, sx
			px++
		case star >= 0:
			px = star + 1
			resume++
			sx = resume
		default:
			return false
		}
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

// policyError is a policy the double refuses: IAM's MalformedPolicyDocument, with the reason.
type policyError struct{ message string }

func (e *policyError) Error() string { return e.message }

type rawStatement struct {
	Sid          string
	Effect       string
	Action       json.RawMessage
	NotAction    json.RawMessage
	Resource     json.RawMessage
	NotResource  json.RawMessage
	Principal    json.RawMessage
	NotPrincipal json.RawMessage
	Condition    map[string]map[string]json.RawMessage
}

// compilePolicy parses an identity-based policy document and returns its Deny statements.
func compilePolicy(doc string) ([]statement, error) {
	var top struct {
		Version   string
		ID        string `json:"Id"`
		Statement json.RawMessage
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&top); err != nil || dec.More() {
		return nil, &policyError{"Syntax errors in policy."}
	}
	var raws []rawStatement
	if bytes.HasPrefix(bytes.TrimSpace(top.Statement), []byte("{")) {
		var one rawStatement
		if err := json.Unmarshal(top.Statement, &one); err != nil {
			return nil, &policyError{"Syntax errors in policy."}
		}
		raws = []rawStatement{one}
	} else if err := json.Unmarshal(top.Statement, &raws); err != nil || len(raws) == 0 {
		return nil, &policyError{"Syntax errors in policy."}
	}
	var denies []statement
	for _, raw := range raws {
		st, deny, err := compileStatement(raw)
		if err != nil {
			return nil, err
		}
		if deny {
			denies = append(denies, st)
		}
	}
	return denies, nil
}

func compileStatement(raw rawStatement) (statement, bool, error) {
	var st statement
	switch {
	case raw.Principal != nil || raw.NotPrincipal != nil:
		return st, false, &policyError{"Has prohibited field Principal"}
	case raw.Effect != "Allow" && raw.Effect != "Deny":
		return st, false, &policyError{"Syntax errors in policy."}
	case raw.NotAction != nil || raw.NotResource != nil:
		return st, false, &policyError{"awsdouble does not evaluate NotAction or NotResource"}
	}
	actions, err := stringOrList(raw.Action)
	if err != nil || len(actions) == 0 {
		return st, false, &policyError{"Policy statement must contain actions."}
	}
	resources, err := stringOrList(raw.Resource)
	if err != nil || len(resources) == 0 {
		return st, false, &policyError{"Policy statement must contain resources."}
	}
	for i, a := range actions {
		actions[i] = strings.ToLower(a)
	}
	st.actions, st.resources = actions, resources
	for operator, keys := range raw.Condition {
		for key, values := range keys {
			c, err := compileCondition(operator, key, values)
			if err != nil {
				return st, false, err
			}
			st.conditions = append(st.conditions, c)
		}
	}
	return st, raw.Effect == "Deny", nil
}

func compileCondition(operator, key string, rawValues json.RawMessage) (condition, error) {
	values, err := stringOrList(rawValues)
	if err != nil || len(values) == 0 {
		return condition{}, &policyError{fmt.Sprintf("Syntax errors in policy: condition %s %s has no values.", operator, key)}
	}
	base, ifExists := strings.CutSuffix(operator, "IfExists")
	c := condition{operator: operator, ifExists: ifExists}
	switch strings.ToLower(key) {
	case "aws:tokenissuetime":
		c.compare = func(rc *requestContext) (any, bool) { return rc.tokenIssue, rc.hasToken }
	case "aws:currenttime":
		c.compare = func(rc *requestContext) (any, bool) { return rc.now, true }
	case "aws:sourceip":
		c.compare = func(rc *requestContext) (any, bool) {
			addr, err := netip.ParseAddr(rc.sourceIP)
			return addr, err == nil
		}
	default:
		return c, &policyError{"awsdouble does not evaluate the condition key " + key + "; it models aws:TokenIssueTime, aws:CurrentTime and aws:SourceIp"}
	}
	switch base {
	case "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals":
		if strings.EqualFold(key, "aws:SourceIp") {
			return c, &policyError{"Syntax errors in policy: " + operator + " does not apply to aws:SourceIp."}
		}
		times := make([]time.Time, len(values))
		for i, v := range values {
			if times[i], err = parsePolicyTime(v); err != nil {
				return c, &policyError{fmt.Sprintf("Syntax errors in policy: %q is not a date for %s.", v, operator)}
			}
		}
		c.test = dateTest(base, times)
	case "IpAddress", "NotIpAddress":
		if !strings.EqualFold(key, "aws:SourceIp") {
			return c, &policyError{"Syntax errors in policy: " + operator + " applies to aws:SourceIp only."}
		}
		prefixes := make([]netip.Prefix, len(values))
		for i, v := range values {
			if prefixes[i], err = parsePrefix(v); err != nil {
				return c, &policyError{fmt.Sprintf("Syntax errors in policy: %q is not an IP address or CIDR block.", v)}
			}
		}
		negate := base == "NotIpAddress"
		c.test = func(v any) bool {
			addr := v.(netip.Addr)
			for _, p := range prefixes {
				if p.Contains(addr) {
					return !negate
				}
			}
			return negate
		}
	default:
		return c, &policyError{"awsdouble does not evaluate the condition operator " + operator + "; it models the Date operators, IpAddress and NotIpAddress"}
	}
	return c, nil
}

// dateTest holds when the request's time compares as op says with any of the values; the Not form
// holds when it equals none.
func dateTest(op string, values []time.Time) func(any) bool {
	cmp := map[string]func(a, b time.Time) bool{
		"DateEquals":            func(a, b time.Time) bool { return a.Equal(b) },
		"DateNotEquals":         func(a, b time.Time) bool { return a.Equal(b) },
		"DateLessThan":          func(a, b time.Time) bool { return a.Before(b) },
		"DateLessThanEquals":    func(a, b time.Time) bool { return !a.After(b) },
		"DateGreaterThan":       func(a, b time.Time) bool { return a.After(b) },
		"DateGreaterThanEquals": func(a, b time.Time) bool { return !a.Before(b) },
	}[op]
	negate := op == "DateNotEquals"
	return func(v any) bool {
		t := v.(time.Time)
		for _, b := range values {
			if cmp(t, b) {
				return !negate
			}
		}
		return negate
	}
}

// parsePolicyTime reads the date forms IAM accepts: ISO 8601 (W3C profile) or epoch seconds.
func parsePolicyTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("not a date: %q", v)
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		return netip.ParsePrefix(v)
	}
	addr, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// stringOrList reads a policy element that is a string or a list of strings; condition values may
// also be numbers or booleans, which IAM compares as their text.
func stringOrList(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err == nil {
			out = append(out, s)
			continue
		}
		var scalar any
		if err := json.Unmarshal(item, &scalar); err != nil {
			return nil, err
		}
		switch scalar.(type) {
		case float64, bool:
			out = append(out, strings.TrimSpace(string(item)))
		default:
			return nil, fmt.Errorf("not a string: %s", item)
		}
	}
	return out, nil
}
