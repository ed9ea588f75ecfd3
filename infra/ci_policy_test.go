package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func readPolicyFile(t *testing.T, path string) policyDocument {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc policyDocument
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
		t.Fatalf("%s: version %q, %d statements", path, doc.Version, len(doc.Statement))
	}
	return doc
}

// The CI preview role: what a pulumi preview of the deployed stack needs (the README's list), no
// wildcard action, and "*" as a resource only for the two actions that have no resource-level
// permissions (EC2 Describe* and ecr:GetAuthorizationToken).
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html
func TestPreviewRolePolicyGrantsOnlyWhatAPreviewNeeds(t *testing.T) {
	doc := readPolicyFile(t, "ci/preview-role-policy.json")
	anyResource := []string{"ec2:DescribeAvailabilityZones", "ecr:GetAuthorizationToken"}
	var actions []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || s.Principal != nil || len(s.Resource) == 0 {
			t.Errorf("statement %s: effect %s, principal %v, resources %v; want an identity policy Allow on named resources", s.Sid, s.Effect, s.Principal, s.Resource)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s: wildcard action %q", s.Sid, a)
			}
			actions = append(actions, a)
		}
		for _, res := range s.Resource {
			if res == "*" {
				for _, a := range s.Action {
					if !slices.Contains(anyResource, a) {
						t.Errorf("statement %s: %s on every resource", s.Sid, a)
					}
				}
			}
		}
	}
	slices.Sort(actions)
	want := []string{
		"ec2:DescribeAvailabilityZones", "ecr:BatchGetImage", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer",
		"kms:Decrypt", "s3:GetObject", "s3:ListBucket",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("actions %v, want %v (change the README's list with them)", actions, want)
	}
}

// Only this repository's main branch and its pull requests may assume the role, through GitHub's
// OIDC provider with the audience aws-actions/configure-aws-credentials asks for.
// https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services
func TestPreviewRoleTrustIsThisRepositoryOnly(t *testing.T) {
	raw, err := os.ReadFile("ci/preview-role-trust.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Principal struct{ Federated string }
			Action    string
			Condition map[string]map[string]stringList
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 1 {
		t.Fatalf("%d statements, want 1", len(doc.Statement))
	}
	s := doc.Statement[0]
	if s.Effect != "Allow" || s.Action != "sts:AssumeRoleWithWebIdentity" ||
		!strings.HasSuffix(s.Principal.Federated, ":oidc-provider/token.actions.githubusercontent.com") {
		t.Errorf("statement %+v: want GitHub's OIDC provider assuming the role with a web identity", s)
	}
	if len(s.Condition) != 1 || s.Condition["StringEquals"] == nil {
		t.Fatalf("conditions %v: want exact matches only (StringEquals)", s.Condition)
	}
	eq := s.Condition["StringEquals"]
	if !slices.Equal(eq["token.actions.githubusercontent.com:aud"], stringList{"sts.amazonaws.com"}) {
		t.Errorf("aud %v, want sts.amazonaws.com", eq["token.actions.githubusercontent.com:aud"])
	}
	if !slices.Equal(eq["token.actions.githubusercontent.com:sub"], stringList{"repo:OWNER/REPO:pull_request", "repo:OWNER/REPO:ref:refs/heads/main"}) {
		t.Errorf("sub %v, want this repository's pull requests and main", eq["token.actions.githubusercontent.com:sub"])
	}
}
