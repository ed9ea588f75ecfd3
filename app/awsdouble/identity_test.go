package awsdouble_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// TestEachIdentityIsRecordedAsCloudTrailWritesIt: every kind of caller gets the userIdentity CloudTrail
// writes for its type, and GetCallerIdentity names it the same way.
func TestEachIdentityIsRecordedAsCloudTrailWritesIt(t *testing.T) {
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	d := mustStart(t, awsdouble.Options{Now: func() time.Time { return at }})
	key := d.CreateKey("alias/app")
	responder := mustAssumeRole(t, d, "arn:aws:iam::111122223333:role/kmswatch-responder", "kmswatch-responder")
	outside := mustAssumeRole(t, d, "arn:aws:iam::444455556666:role/ci-deployer", "build-1842")
	alice := d.AddUser("Alice")
	task := d.Tasks("kmswatch", "kmswatch-app")[0]

	cases := []struct {
		name                  string
		creds                 awsdouble.Credentials
		wantType, wantARN     string
		wantAccount           string
		wantPrincipalIDSuffix string
		wantIssuerARN         string // "" for no sessionContext
		wantUserName          string
	}{
		{"the task role's session", awsdouble.DefaultCredentials, "AssumedRole",
			"arn:aws:sts::111122223333:assumed-role/kmswatch-task/" + task.ID, "111122223333", ":" + task.ID,
			"arn:aws:iam::111122223333:role/kmswatch-task", ""},
		{"another role of the account", responder.Credentials, "AssumedRole",
			"arn:aws:sts::111122223333:assumed-role/kmswatch-responder/kmswatch-responder", "111122223333", ":kmswatch-responder",
			"arn:aws:iam::111122223333:role/kmswatch-responder", ""},
		{"a role of another account", outside.Credentials, "AssumedRole",
			"arn:aws:sts::444455556666:assumed-role/ci-deployer/build-1842", "444455556666", ":build-1842",
			"arn:aws:iam::444455556666:role/ci-deployer", ""},
		{"an IAM user's access key", alice.Credentials, "IAMUser",
			"arn:aws:iam::111122223333:user/Alice", "111122223333", "", "", "Alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := d.as(tc.creds, "")
			mustEncryptWith(t, c, key.ID)
			rec := lastRecord(t, d)
			id := rec.UserIdentity
			if id.Type != tc.wantType || id.ARN != tc.wantARN || id.AccountID != tc.wantAccount || id.AccessKeyID != tc.creds.AccessKeyID {
				t.Errorf("userIdentity type %q arn %q accountId %q accessKeyId %q, want %q %q %q %q",
					id.Type, id.ARN, id.AccountID, id.AccessKeyID, tc.wantType, tc.wantARN, tc.wantAccount, tc.creds.AccessKeyID)
			}
			if id.UserName != tc.wantUserName {
				t.Errorf("userName = %q, want %q", id.UserName, tc.wantUserName)
			}
			issuer := id.SessionContext.SessionIssuer
			if issuer.ARN != tc.wantIssuerARN {
				t.Errorf("sessionIssuer.arn = %q, want %q", issuer.ARN, tc.wantIssuerARN)
			}
			if tc.wantIssuerARN != "" {
				if issuer.Type != "Role" || id.PrincipalID != issuer.PrincipalID+tc.wantPrincipalIDSuffix ||
					!strings.HasPrefix(issuer.PrincipalID, "AROA") || len(issuer.PrincipalID) != 21 || issuer.AccountID != tc.wantAccount {
					t.Errorf("principalId %q, sessionIssuer %+v", id.PrincipalID, issuer)
				}
				if got := id.SessionContext.Attributes.CreationDate; got != "2026-11-24T09:00:00Z" {
					t.Errorf("creationDate = %q, want the session's issue time", got)
				}
				if !strings.HasPrefix(id.AccessKeyID, "ASIA") {
					t.Errorf("a session's access key id %q does not start ASIA", id.AccessKeyID)
				}
			} else if !strings.HasPrefix(id.PrincipalID, "AIDA") || !strings.HasPrefix(id.AccessKeyID, "AKIA") {
				t.Errorf("an IAM user's principalId %q / accessKeyId %q", id.PrincipalID, id.AccessKeyID)
			}
			if rec.RecipientAccountID != "111122223333" {
				t.Errorf("recipientAccountId = %q, want the key owner's account", rec.RecipientAccountID)
			}

			who, err := c.STS.GetCallerIdentity(testContext(t), &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(who.Arn) != tc.wantARN || aws.ToString(who.Account) != tc.wantAccount || aws.ToString(who.UserId) != id.PrincipalID {
				t.Errorf("GetCallerIdentity = %s %s %s, want %s %s %s", aws.ToString(who.Arn), aws.ToString(who.Account),
					aws.ToString(who.UserId), tc.wantARN, tc.wantAccount, id.PrincipalID)
			}
			if sr := lastRecord(t, d); sr.EventSource != "sts.amazonaws.com" || sr.EventName != "GetCallerIdentity" || sr.UserIdentity.ARN != tc.wantARN {
				t.Errorf("GetCallerIdentity record: %s %s by %s", sr.EventSource, sr.EventName, sr.UserIdentity.ARN)
			}
		})
	}
}

func mustEncryptWith(tb testing.TB, c clients, keyID string) {
	tb.Helper()
	if _, err := c.KMS.Encrypt(testContext(tb), &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("p")}); err != nil {
		tb.Fatalf("Encrypt: %v", err)
	}
}

func TestSourceAddressIsForwardedForOrThePeer(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	cases := []struct{ name, forwarded, want string }{
		{"the peer without X-Forwarded-For", "", "127.0.0.1"},
		{"X-Forwarded-For from a client config", "203.0.113.50", "203.0.113.50"},
		{"an IPv6 caller", "2001:db8::7", "2001:db8::7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mustEncryptWith(t, d.as(awsdouble.DefaultCredentials, tc.forwarded), key.ID)
			if got := lastRecord(t, d).SourceIPAddress; got != tc.want {
				t.Errorf("sourceIPAddress = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("the first of a proxy chain; not an address falls back to the peer", func(t *testing.T) {
		for header, want := range map[string]string{"198.51.100.4, 10.0.0.1": "198.51.100.4", "not-an-ip": "127.0.0.1"} {
			req, err := http.NewRequest(http.MethodPost, d.URL, strings.NewReader(`{"KeyId":"`+key.ID+`","Plaintext":"cA=="}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			req.Header.Set("X-Forwarded-For", header)
			signWithoutSignature(req, awsdouble.DefaultCredentials, "kms")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := lastRecord(t, d).SourceIPAddress; resp.StatusCode != 200 || got != want {
				t.Errorf("X-Forwarded-For %q: status %d, sourceIPAddress %q, want %q", header, resp.StatusCode, got, want)
			}
		}
	})
}

// TestUnknownAccessKeyIsRefusedAsAWSRefusesIt: each service's own error for a key it does not know, and no
// record, since the call reaches no account.
func TestUnknownAccessKeyIsRefusedAsAWSRefusesIt(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	key := d.CreateKey("")
	topic := d.CreateTopic("alerts")
	stranger := d.as(awsdouble.Credentials{AccessKeyID: "ASIAY34FZKBOKMUTVV7A", SecretAccessKey: "x", SessionToken: "forged"}, "")
	const invalid = "The security token included in the request is invalid."
	cases := []struct {
		name       string
		call       func(context.Context) error
		wantCode   string
		wantStatus int
	}{
		{"KMS", func(ctx context.Context) error {
			_, err := stranger.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(key.ID), CiphertextBlob: []byte("x")})
			return err
		}, "UnrecognizedClientException", 400},
		{"ECS", func(ctx context.Context) error {
			_, err := stranger.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("kmswatch"), Services: []string{"kmswatch-app"}})
			return err
		}, "UnrecognizedClientException", 400},
		{"IAM", func(ctx context.Context) error {
			_, err := stranger.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("kmswatch-task")})
			return err
		}, "InvalidClientTokenId", 403},
		{"STS", func(ctx context.Context) error {
			_, err := stranger.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "InvalidClientTokenId", 403},
		{"SNS", func(ctx context.Context) error {
			_, err := stranger.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")})
			return err
		}, "InvalidClientTokenId", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(testContext(t))
			if errorCode(err) != tc.wantCode || errorMessage(err) != invalid || httpStatus(err) != tc.wantStatus {
				t.Errorf("err = %v (status %d), want %s %q %d", err, httpStatus(err), tc.wantCode, invalid, tc.wantStatus)
			}
		})
	}
	if n := len(d.Records()); n != 0 {
		t.Errorf("%d records of unauthenticated calls, want none", n)
	}
}

// TestAssumeRoleRefusesWhatSTSWould: a malformed role ARN or session name is an error, not a principal.
func TestAssumeRoleRefusesWhatSTSWould(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	for _, tc := range []struct{ roleARN, session string }{
		{"arn:aws:iam::111122223333:user/Alice", "s"},
		{"kmswatch-task", "s"},
		{"arn:aws:iam::1111:role/short-account", "s"},
		{"arn:aws:iam::111122223333:role/kmswatch-task", ""},
		{"arn:aws:iam::111122223333:role/kmswatch-task", strings.Repeat("s", 65)},
	} {
		if _, err := d.AssumeRole(tc.roleARN, tc.session); err == nil {
			t.Errorf("AssumeRole(%q, %q) succeeded", tc.roleARN, tc.session)
		}
	}
}

// TestRecordsAreOneJSONObjectEach guards the hand-built records of every service against a stray comma.
func TestRecordsAreOneJSONObjectEach(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	topic := d.CreateTopic("alerts")
	ctx := testContext(t)
	_, _ = d.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	_, _ = d.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")})
	_, _ = d.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("kmswatch-task")})
	_, _ = d.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("kmswatch"), Services: []string{"kmswatch-app"}})
	raw := d.Records()
	if len(raw) != 4 {
		t.Fatalf("%d records, want 4", len(raw))
	}
	for i, r := range raw {
		if !json.Valid(r) {
			t.Errorf("record %d is not JSON: %s", i, r)
		}
	}
}
