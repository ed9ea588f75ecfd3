package awsdouble

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// IAM inline role policies, after the API reference (query protocol, XML answers):
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html , API_DeleteRolePolicy.html,
// API_GetRolePolicy.html, API_ListRolePolicies.html. IAM is global: its records name us-east-1.

var iamNamePattern = regexp.MustCompile(`^[\w+=,.@-]+$`)

// maxRoleInlinePolicyBytes is IAM's quota on a role's inline policies together:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html ("Role policy size ... 10,240 characters").
const maxRoleInlinePolicyBytes = 10240

// iamRole finds the role a RoleName names, authorizing action on it; the role must be of this account.
func (s *Server) iamRole(ev *event, action string) (*role, string, *apiError) {
	name := ev.form.Get("RoleName")
	if aerr := validateIAMName(name, "roleName", 64); aerr != nil {
		return nil, name, aerr
	}
	r := s.roleNamed(name)
	if r == nil {
		return nil, name, &apiError{"NoSuchEntity", "The role with name " + name + " cannot be found."}
	}
	if aerr := s.authorize(ev, action, r.arn, "role "+name); aerr != nil {
		return nil, name, aerr
	}
	return r, name, nil
}

func validateIAMName(v, member string, maxLen int) *apiError {
	switch {
	case v == "":
		return &apiError{"ValidationError", "1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null"}
	case len(v) > maxLen:
		return &apiError{"ValidationError", "1 validation error detected: Value '" + v + "' at '" + member + "' failed to satisfy constraint: Member must have length less than or equal to " + strconv.Itoa(maxLen)}
	case !iamNamePattern.MatchString(v):
		return &apiError{"ValidationError", "1 validation error detected: Value '" + v + "' at '" + member + `' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`}
	}
	return nil
}

func (s *Server) putRolePolicy(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	policyName, doc := ev.form.Get("PolicyName"), ev.form.Get("PolicyDocument")
	ev.params = iamParams(ev.form.Get("RoleName"), policyName, doc, true)
	r, _, aerr := s.iamRole(ev, "PutRolePolicy")
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateIAMName(policyName, "policyName", 128); aerr != nil {
		return nil, aerr
	}
	if doc == "" {
		return nil, &apiError{"ValidationError", "1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"}
	}
	if _, err := compilePolicy(doc); err != nil {
		return nil, &apiError{"MalformedPolicyDocument", err.Error()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	size := len(doc)
	for name, other := range r.policies {
		if name != policyName {
			size += len(other)
		}
	}
	if size > maxRoleInlinePolicyBytes {
		return nil, &apiError{"LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role " + r.name}
	}
	r.policies[policyName] = doc
	r.recompile()
	return out, nil
}

func (s *Server) deleteRolePolicy(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	policyName := ev.form.Get("PolicyName")
	ev.params = iamParams(ev.form.Get("RoleName"), policyName, "", true)
	r, _, aerr := s.iamRole(ev, "DeleteRolePolicy")
	if aerr != nil {
		return nil, aerr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.policies[policyName]; !ok {
		return nil, &apiError{"NoSuchEntity", "The role policy with name " + policyName + " cannot be found."}
	}
	delete(r.policies, policyName)
	r.recompile()
	return out, nil
}

// getRolePolicy answers with the document URL-encoded, as IAM does ("The policy document returned in this
// structure is URL-encoded compliant with RFC 3986", API_GetRolePolicy.html).
func (s *Server) getRolePolicy(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	policyName := ev.form.Get("PolicyName")
	ev.params = iamParams(ev.form.Get("RoleName"), policyName, "", true)
	r, name, aerr := s.iamRole(ev, "GetRolePolicy")
	if aerr != nil {
		return nil, aerr
	}
	r.mu.Lock()
	doc, ok := r.policies[policyName]
	r.mu.Unlock()
	if !ok {
		return nil, &apiError{"NoSuchEntity", "The role policy with name " + policyName + " cannot be found."}
	}
	out = appendXMLElement(out, "RoleName", name)
	out = appendXMLElement(out, "PolicyName", policyName)
	return appendXMLElement(out, "PolicyDocument", rfc3986Escape(doc)), nil
}

func (s *Server) listRolePolicies(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	ev.params = iamParams(ev.form.Get("RoleName"), "", "", false)
	r, _, aerr := s.iamRole(ev, "ListRolePolicies")
	if aerr != nil {
		return nil, aerr
	}
	r.mu.Lock()
	names := make([]string, 0, len(r.policies))
	for name := range r.policies {
		names = append(names, name)
	}
	r.mu.Unlock()
	slices.Sort(names)
	out = append(out, "<PolicyNames>"...)
	for _, name := range names {
		out = appendXMLElement(out, "member", name)
	}
	return append(out, "</PolicyNames><IsTruncated>false</IsTruncated>"...), nil
}

// defaultMaxSessionDuration is a role's maximum session duration when none is set: "The default
// value is one hour (3600 seconds)". Sessions of the role (the ECS task's among them) last at most this.
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html
const defaultMaxSessionDuration = 3600

// getRole answers GetRole with the fields the responder's release reads (MaxSessionDuration) and
// the identifying ones; tags, boundaries and last use are not modelled.
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html
func (s *Server) getRole(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	ev.params = iamParams(ev.form.Get("RoleName"), "", "", false)
	r, name, aerr := s.iamRole(ev, "GetRole")
	if aerr != nil {
		return nil, aerr
	}
	out = append(out, "<Role>"...)
	out = appendXMLElement(out, "Path", "/")
	out = appendXMLElement(out, "RoleName", name)
	out = appendXMLElement(out, "RoleId", r.id)
	out = appendXMLElement(out, "Arn", r.arn)
	out = appendXMLElement(out, "CreateDate", s.started.Format("2006-01-02T15:04:05Z"))
	out = appendXMLElement(out, "MaxSessionDuration", strconv.Itoa(defaultMaxSessionDuration))
	return append(out, "</Role>"...), nil
}

// RolePolicies returns a copy of the inline policies of the account's role roleName, by policy name, as they
// were put; nil when there is no such role. Tests compare them before a change and after its undo.
func (s *Server) RolePolicies(roleName string) map[string]string {
	r := s.roleNamed(roleName)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.policies))
	for name, doc := range r.policies {
		out[name] = doc
	}
	return out
}

// recompile rebuilds the role's Deny statements from its inline policies; r.mu is held.
func (r *role) recompile() {
	var denies []statement
	for _, doc := range r.policies {
		compiled, err := compilePolicy(doc)
		if err != nil {
			continue // PutRolePolicy refused it; kept documents all compile
		}
		denies = append(denies, compiled...)
	}
	if len(denies) == 0 {
		r.denies.Store(nil)
		return
	}
	r.denies.Store(&denies)
}

// iamParams is requestParameters as CloudTrail logs the role policy calls.
func iamParams(roleName, policyName, doc string, withPolicyName bool) []byte {
	b := appendJSONString([]byte(`{"roleName":`), roleName)
	if withPolicyName {
		b = appendJSONString(append(b, `,"policyName":`...), policyName)
	}
	if doc != "" {
		b = appendJSONString(append(b, `,"policyDocument":`...), doc)
	}
	return append(b, '}')
}

// rfc3986Escape percent-encodes everything but RFC 3986's unreserved characters.
func rfc3986Escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
