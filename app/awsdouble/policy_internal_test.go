package awsdouble

import (
	"strings"
	"testing"
	"time"
)

func TestDenyEvaluation(t *testing.T) {
	issued := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	session := requestContext{action: "kms:Decrypt", resource: "arn:aws:kms:us-east-1:111122223333:key/k1",
		tokenIssue: issued, hasToken: true, now: issued.Add(time.Hour), sourceIP: "198.51.100.23"}
	user := session
	user.hasToken, user.tokenIssue = false, time.Time{}
	deny := func(body string) string { return `{"Version":"2012-10-17","Statement":{"Effect":"Deny",` + body + `}}` }
	cases := []struct {
		name   string
		policy string
		rc     requestContext
		want   bool
	}{
		{"revoke: issued before the date", deny(`"Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-24T10:00:01Z"}}`), session, true},
		{"revoke: issued at the date is not before it", deny(`"Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-24T10:00:00Z"}}`), session, false},
		{"revoke: console's milliseconds", deny(`"Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-24T10:00:00.001Z"}}`), session, true},
		{"revoke: epoch seconds", deny(`"Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"1795514401"}}`), session, true},
		{"revoke: a long-term key has no token issue time", deny(`"Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2030-01-01T00:00:00Z"}}`), user, false},
		{"IfExists holds when the key is absent", deny(`"Action":"*","Resource":"*","Condition":{"DateLessThanIfExists":{"aws:TokenIssueTime":"2030-01-01T00:00:00Z"}}`), user, true},
		{"action wildcard in the service", deny(`"Action":"kms:*","Resource":"*"`), session, true},
		{"action ? wildcard, any case", deny(`"Action":"KMS:De?rypt","Resource":"*"`), session, true},
		{"another action", deny(`"Action":"kms:Encrypt","Resource":"*"`), session, false},
		{"resource pattern", deny(`"Action":"*","Resource":"arn:aws:kms:*:111122223333:key/*"`), session, true},
		{"another resource", deny(`"Action":"*","Resource":"arn:aws:kms:us-east-1:111122223333:key/k2"`), session, false},
		{"resources are case-sensitive", deny(`"Action":"*","Resource":"ARN:aws:kms:us-east-1:111122223333:key/k1"`), session, false},
		{"from outside the VPC's range", deny(`"Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/16"]}}`), session, true},
		{"from inside the range", deny(`"Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`), session, true},
		{"a single address", deny(`"Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.24"}}`), session, false},
		{"every condition must hold", deny(`"Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"},"DateGreaterThan":{"aws:TokenIssueTime":"2027-01-01"}}`), session, false},
		{"any value of a condition may match", deny(`"Action":"*","Resource":"*","Condition":{"DateEquals":{"aws:TokenIssueTime":["2020-01-01T00:00:00Z","2026-11-24T10:00:00Z"]}}`), session, true},
		{"DateNotEquals matches none", deny(`"Action":"*","Resource":"*","Condition":{"DateNotEquals":{"aws:TokenIssueTime":"2026-11-24T10:00:00Z"}}`), session, false},
		{"aws:CurrentTime", deny(`"Action":"*","Resource":"*","Condition":{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-11-24T11:00:00Z"}}`), session, true},
		{"an Allow denies nothing", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, session, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			denies, err := compilePolicy(tc.policy)
			if err != nil {
				t.Fatalf("compilePolicy: %v", err)
			}
			if got := explicitlyDenied(denies, &tc.rc); got != tc.want {
				t.Errorf("denied = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPoliciesTheDoubleCannotEvaluateAreRefused(t *testing.T) {
	cases := []struct{ name, policy, wantInMessage string }{
		{"not JSON", `{"Version":`, "Syntax errors in policy."},
		{"trailing data", `{"Statement":[]} {}`, "Syntax errors in policy."},
		{"no statements", `{"Version":"2012-10-17","Statement":[]}`, "Syntax errors in policy."},
		{"an unknown top-level element", `{"Version":"2012-10-17","Statements":[]}`, "Syntax errors in policy."},
		{"a principal in an identity policy", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}`, "Has prohibited field Principal"},
		{"an effect that is neither", `{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}`, "Syntax errors in policy."},
		{"no action", `{"Statement":{"Effect":"Deny","Resource":"*"}}`, "must contain actions"},
		{"no resource", `{"Statement":{"Effect":"Deny","Action":"*"}}`, "must contain resources"},
		{"NotAction", `{"Statement":{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}}`, "awsdouble does not evaluate NotAction"},
		{"an operator not modelled", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}}`, "awsdouble does not evaluate the condition key aws:SourceVpc"},
		{"a key not modelled", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":false}}}}`, "awsdouble does not evaluate the condition key"},
		{"a date that is not one", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"yesterday"}}}}`, `"yesterday" is not a date`},
		{"a date operator on an address", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:SourceIp":"2026-01-01"}}}}`, "does not apply to aws:SourceIp"},
		{"a CIDR that is not one", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/99"}}}}`, "not an IP address or CIDR block"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compilePolicy(tc.policy)
			if err == nil || !strings.Contains(err.Error(), tc.wantInMessage) {
				t.Errorf("compilePolicy = %v, want an error containing %q", err, tc.wantInMessage)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "kms:decrypt", true}, {"kms:*", "kms:decrypt", true}, {"kms:*", "iam:getrole", false},
		{"*crypt", "kms:decrypt", true}, {"kms:?ncrypt", "kms:encrypt", true}, {"kms:?ncrypt", "kms:eencrypt", false},
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"", "", true}, {"", "x", false}, {"**", "abc", true},
	}
	for _, tc := range cases {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
