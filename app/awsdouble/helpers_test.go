package awsdouble_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// testDouble is a Server behind httptest with real SDK clients pointed at it, signed as the task role's
// first session (DefaultCredentials).
type testDouble struct {
	*awsdouble.Server
	URL string
	clients
}

// clients are the SDK clients of one caller.
type clients struct {
	KMS     *kms.Client
	Secrets *secretsmanager.Client
	IAM     *iam.Client
	STS     *sts.Client
	ECS     *ecs.Client
	SNS     *sns.Client
}

// as returns clients signed with creds, calling from sourceIP ("" for the loopback address).
func (d *testDouble) as(creds awsdouble.Credentials, sourceIP string) clients {
	cfg := awsdouble.ClientConfigFor(d.URL, creds, sourceIP)
	fast := func(r aws.Retryer) aws.Retryer { return retry.AddWithMaxBackoffDelay(r, time.Millisecond) }
	return clients{
		KMS:     kms.NewFromConfig(cfg, func(o *kms.Options) { o.Retryer = fast(o.Retryer) }),
		Secrets: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Retryer = fast(o.Retryer) }),
		IAM:     iam.NewFromConfig(cfg, func(o *iam.Options) { o.Retryer = fast(o.Retryer) }),
		STS:     sts.NewFromConfig(cfg, func(o *sts.Options) { o.Retryer = fast(o.Retryer) }),
		ECS:     ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.Retryer = fast(o.Retryer) }),
		SNS:     sns.NewFromConfig(cfg, func(o *sns.Options) { o.Retryer = fast(o.Retryer) }),
	}
}

// mustStart serves a new double for the length of the test. The clients keep ClientConfig's default
// retryer and only cap its backoff, so retry decisions are the SDK's own but tests stay fast.
func mustStart(tb testing.TB, opts awsdouble.Options) *testDouble {
	tb.Helper()
	return mustStartWith(tb, awsdouble.New(opts))
}

// mustStartWith serves an existing Server.
func mustStartWith(tb testing.TB, s *awsdouble.Server) *testDouble {
	tb.Helper()
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	d := &testDouble{Server: s, URL: ts.URL}
	d.clients = d.as(awsdouble.DefaultCredentials, "")
	return d
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// mustEncrypt encrypts or fails the test.
func mustEncrypt(tb testing.TB, d *testDouble, keyID string, plaintext []byte, encCtx map[string]string) []byte {
	tb.Helper()
	out, err := d.KMS.Encrypt(testContext(tb), &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: plaintext, EncryptionContext: encCtx})
	if err != nil {
		tb.Fatalf("Encrypt(%s): %v", keyID, err)
	}
	return out.CiphertextBlob
}

// httpStatus is the status code of the response an SDK error came from, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isA reports whether err wraps an error of type T, as callers test with errors.As.
func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// signWithoutSignature sets the SigV4 headers the double reads (the access key id of the credential scope and
// the session token); the signature itself is a placeholder, since the double does not verify it.
func signWithoutSignature(r *http.Request, creds awsdouble.Credentials, service string) {
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+creds.AccessKeyID+"/20261124/us-east-1/"+service+
		"/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000")
	if creds.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
}

// mustAssumeRole starts a role session or fails the test.
func mustAssumeRole(tb testing.TB, d *testDouble, roleARN, name string) awsdouble.Session {
	tb.Helper()
	sess, err := d.AssumeRole(roleARN, name)
	if err != nil {
		tb.Fatal(err)
	}
	return sess
}

// lastRecord decodes the newest CloudTrail record.
func lastRecord(tb testing.TB, d *testDouble) trailRecord {
	tb.Helper()
	raw := d.Records()
	if len(raw) == 0 {
		tb.Fatal("no records")
	}
	return decodeRecords(tb, raw[len(raw)-1:])[0]
}

// errorMessage is the message of the AWS error err carries.
func errorMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}
