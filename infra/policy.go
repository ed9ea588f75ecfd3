package main

import (
	"encoding/json"
	"fmt"
)

// policyDocument is an IAM policy (identity, key, bucket, topic or trust policy) built as data, so
// that tests can read the deployed JSON back into the same type and check each statement.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
type policyDocument struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string     `json:"Sid,omitempty"`
	Effect    string     `json:"Effect"`
	Principal *principal `json:"Principal,omitempty"`
	Action    stringList `json:"Action"`
	Resource  stringList `json:"Resource,omitempty"`
	Condition conditions `json:"Condition,omitempty"`
}

type principal struct {
	AWS     stringList `json:"AWS,omitempty"`
	Service stringList `json:"Service,omitempty"`
}

// conditions maps an operator (StringEquals, ArnLike, ...) to condition keys and their values.
type conditions map[string]map[string]stringList

// stringList is a JSON string or array of strings, as IAM accepts both.
type stringList []string

func (l stringList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}

func (l *stringList) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

func newPolicy(statements ...statement) policyDocument {
	return policyDocument{Version: "2012-10-17", Statement: statements}
}

func allow(sid string, actions ...string) statement {
	return statement{Sid: sid, Effect: "Allow", Action: actions}
}

func deny(sid string, actions ...string) statement {
	return statement{Sid: sid, Effect: "Deny", Action: actions}
}

func (s statement) on(resources ...string) statement {
	s.Resource = resources
	return s
}

func (s statement) forService(services ...string) statement {
	s.Principal = &principal{Service: services}
	return s
}

func (s statement) forAWS(arns ...string) statement {
	s.Principal = &principal{AWS: arns}
	return s
}

// when adds a condition; several calls with the same operator merge their keys.
func (s statement) when(operator, key string, values ...string) statement {
	merged := conditions{}
	for op, keys := range s.Condition {
		merged[op] = map[string]stringList{}
		for k, v := range keys {
			merged[op][k] = v
		}
	}
	if merged[operator] == nil {
		merged[operator] = map[string]stringList{}
	}
	merged[operator][key] = values
	s.Condition = merged
	return s
}

// JSON renders the document. Marshalling these types cannot fail; a failure is a bug.
func (d policyDocument) JSON() string {
	out, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("policy document: %v", err))
	}
	return string(out)
}

// assumeRolePolicy lets one service assume a role, scoped to the stack's account.
func assumeRolePolicy(service string, scope ...func(statement) statement) string {
	s := allow("", "sts:AssumeRole").forService(service)
	for _, f := range scope {
		s = f(s)
	}
	return newPolicy(s).JSON()
}
