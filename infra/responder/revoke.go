package responder

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// RevokePolicyName is the inline policy IAM's console attaches on "Revoke active sessions". The
// responder uses the same name, so that a person's revocation in the console and the responder's
// update one policy, and the console shows the responder's revocation as its own.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html
const RevokePolicyName = "AWSRevokeOlderSessions"

// revokeDocument is the policy that page prints for that action: one statement denying "*" on "*"
// when aws:TokenIssueTime is before the revocation time, with Action and Resource as lists.
//
// Why "*" and not the task role's four actions: the deny grants nothing, it only ends credentials
// issued before the date, and new sessions (the fresh tasks') are not affected. Denying only
// kms:Encrypt, kms:Decrypt and secretsmanager:GetSecretValue would leave a stolen copy whatever
// the role is allowed later or through another policy. The repository's rule against "*"
// actions is about what we allow; this is a deny.
type revokeDocument struct {
	Version   string            `json:"Version"`
	Statement []revokeStatement `json:"Statement"`
}

type revokeStatement struct {
	Effect    string                       `json:"Effect"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition"`
}

// RevokeDocument renders the revocation of every session issued before t, to the second in UTC
// as IAM's date condition operators take it (ISO 8601).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date
func RevokeDocument(before time.Time) string {
	doc := revokeDocument{
		Version: "2012-10-17",
		Statement: []revokeStatement{{
			Effect:   "Deny",
			Action:   []string{"*"},
			Resource: []string{"*"},
			Condition: map[string]map[string]string{
				"DateLessThan": {"aws:TokenIssueTime": before.UTC().Truncate(time.Second).Format(time.RFC3339)},
			},
		}},
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("revoke document: %v", err)) // strings only: cannot fail
	}
	return string(out)
}

// RevokedBefore reads the date back from a revocation document, as the responder, the console or
// a person wrote it (a statement list or one statement object, strings or lists); ok is false
// for any other policy.
func RevokedBefore(document string) (time.Time, bool) {
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if json.Unmarshal([]byte(document), &doc) != nil {
		return time.Time{}, false
	}
	type statement struct {
		Effect    string                       `json:"Effect"`
		Condition map[string]map[string]string `json:"Condition"`
	}
	var list []statement
	if json.Unmarshal(doc.Statement, &list) != nil {
		var one statement
		if json.Unmarshal(doc.Statement, &one) != nil {
			return time.Time{}, false
		}
		list = []statement{one}
	}
	if len(list) != 1 || list[0].Effect != "Deny" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, list[0].Condition["DateLessThan"]["aws:TokenIssueTime"])
	return t, err == nil
}

// SameDocument compares two policy documents as JSON values. GetRolePolicy returns the document
// URL-encoded (RFC 3986), and IAM may re-space it; decode first with DecodePolicyDocument.
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
func SameDocument(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	ja, _ := json.Marshal(va) // maps marshal with sorted keys
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

// DecodePolicyDocument undoes GetRolePolicy's URL encoding; a document that is already plain JSON
// (as some endpoints and doubles return it) is kept as it is.
func DecodePolicyDocument(s string) (string, error) {
	if json.Valid([]byte(s)) {
		return s, nil
	}
	decoded, err := url.PathUnescape(s) // not QueryUnescape: a "+" stays a "+"
	if err != nil {
		return "", fmt.Errorf("policy document is neither JSON nor URL-encoded JSON: %w", err)
	}
	if !json.Valid([]byte(decoded)) {
		return "", fmt.Errorf("policy document is not JSON once URL-decoded")
	}
	return decoded, nil
}
