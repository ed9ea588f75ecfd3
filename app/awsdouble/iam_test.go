package awsdouble_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

func TestRolePolicyLifecycle(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	ctx := testContext(t)
	doc := revokeOlderSessions(d.Tasks("kmswatch", "kmswatch-app")[0].Started)
	put := &iam.PutRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(doc)}
	if _, err := d.IAM.PutRolePolicy(ctx, put); err != nil {
		t.Fatalf("PutRolePolicy: %v", err)
	}
	rec := lastRecord(t, d)
	var params struct{ RoleName, PolicyName, PolicyDocument string }
	if err := json.Unmarshal(rec.RequestParameters, &params); err != nil {
		t.Fatal(err)
	}
	if rec.EventSource != "iam.amazonaws.com" || rec.EventName != "PutRolePolicy" || rec.AWSRegion != "us-east-1" ||
		rec.ReadOnly == nil || *rec.ReadOnly || string(rec.ResponseElements) != "null" ||
		params.RoleName != taskRoleName || params.PolicyName != "AWSRevokeOlderSessions" || params.PolicyDocument != doc ||
		rec.TLSDetails.ClientProvidedHostHeader != "iam.amazonaws.com" {
		t.Errorf("PutRolePolicy record: %s %s region %s readOnly %v params %+v response %s host %s", rec.EventSource, rec.EventName,
			rec.AWSRegion, rec.ReadOnly, params, rec.ResponseElements, rec.TLSDetails.ClientProvidedHostHeader)
	}

	got, err := d.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("AWSRevokeOlderSessions")})
	if err != nil {
		t.Fatalf("GetRolePolicy: %v", err)
	}
	encoded := aws.ToString(got.PolicyDocument)
	decoded, err := url.QueryUnescape(encoded)
	if err != nil || decoded != doc || encoded == doc {
		t.Errorf("GetRolePolicy document %q decodes to %q (%v), want the URL-encoded document", encoded, decoded, err)
	}
	if aws.ToString(got.RoleName) != taskRoleName || aws.ToString(got.PolicyName) != "AWSRevokeOlderSessions" {
		t.Errorf("GetRolePolicy = %s %s", aws.ToString(got.RoleName), aws.ToString(got.PolicyName))
	}
	if rec := lastRecord(t, d); rec.ReadOnly == nil || !*rec.ReadOnly {
		t.Errorf("GetRolePolicy record readOnly = %v, want true", rec.ReadOnly)
	}

	put.PolicyName = aws.String("another")
	if _, err := d.IAM.PutRolePolicy(ctx, put); err != nil {
		t.Fatal(err)
	}
	list, err := d.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(taskRoleName)})
	if err != nil || len(list.PolicyNames) != 2 || list.PolicyNames[0] != "AWSRevokeOlderSessions" || list.PolicyNames[1] != "another" || list.IsTruncated {
		t.Errorf("ListRolePolicies = %+v, %v", list, err)
	}
	if _, err := d.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("another")}); err != nil {
		t.Fatal(err)
	}
	list, err = d.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(taskRoleName)})
	if err != nil || len(list.PolicyNames) != 1 {
		t.Errorf("after DeleteRolePolicy: %+v, %v", list, err)
	}
}

func TestRolePolicyErrorsAreIAMs(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	ctx := testContext(t)
	cases := []struct {
		name       string
		call       func() error
		isWanted   func(error) bool
		wantCode   string
		wantMsg    string
		wantStatus int
	}{
		{"unknown role", func() error {
			_, err := d.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("nobody"), PolicyName: aws.String("p")})
			return err
		}, isA[*iamtypes.NoSuchEntityException], "NoSuchEntity", "The role with name nobody cannot be found.", 404},
		{"unknown policy", func() error {
			_, err := d.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("p")})
			return err
		}, isA[*iamtypes.NoSuchEntityException], "NoSuchEntity", "The role policy with name p cannot be found.", 404},
		{"deleting an unknown policy", func() error {
			_, err := d.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("p")})
			return err
		}, isA[*iamtypes.NoSuchEntityException], "NoSuchEntity", "The role policy with name p cannot be found.", 404},
		{"a document that is not JSON", func() error {
			_, err := d.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("p"), PolicyDocument: aws.String("{")})
			return err
		}, isA[*iamtypes.MalformedPolicyDocumentException], "MalformedPolicyDocument", "Syntax errors in policy.", 400},
		{"a policy name IAM does not allow", func() error {
			_, err := d.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("no spaces"), PolicyDocument: aws.String(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)})
			return err
		}, nil, "ValidationError", `1 validation error detected: Value 'no spaces' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`, 400},
		{"over the role's 10,240 characters", func() error {
			big := `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Sid":"` + strings.Repeat("x", 10240) + `"}}`
			_, err := d.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(taskRoleName), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})
			return err
		}, isA[*iamtypes.LimitExceededException], "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role kmswatch-task", 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.isWanted != nil && !tc.isWanted(err) {
				t.Errorf("errors.As found no %s in %T: %v", tc.wantCode, err, err)
			}
			if errorCode(err) != tc.wantCode || errorMessage(err) != tc.wantMsg || httpStatus(err) != tc.wantStatus {
				t.Errorf("err = %v (status %d), want %s %d %q", err, httpStatus(err), tc.wantCode, tc.wantStatus, tc.wantMsg)
			}
			if rec := lastRecord(t, d); rec.ErrorCode != tc.wantCode {
				t.Errorf("record errorCode = %q, want %q", rec.ErrorCode, tc.wantCode)
			}
		})
	}
}

// GetRole names the role and its maximum session duration, IAM's default one hour: release reads
// it to know how long a revoked session may still be valid.
func TestGetRoleGivesTheMaximumSessionDuration(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	ctx := testContext(t)
	out, err := d.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(taskRoleName)})
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	r := out.Role
	if aws.ToString(r.RoleName) != taskRoleName || !strings.HasSuffix(aws.ToString(r.Arn), ":role/"+taskRoleName) ||
		aws.ToInt32(r.MaxSessionDuration) != 3600 || r.CreateDate == nil {
		t.Errorf("role %+v", r)
	}
	if _, err := d.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("no-such-role")}); err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
		t.Errorf("GetRole of a missing role: %v, want NoSuchEntity", err)
	}
}
