package kms_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/app/kms"
)

type fixture struct {
	double *awsdouble.Server
	key    awsdouble.Key
	crypto *kms.Crypto
}

// newFixture serves a KMS double over HTTP with one key and returns a Crypto
// on the real SDK client. fastRetries caps backoff so fault tests stay quick.
func newFixture(t testing.TB, fastRetries bool) *fixture {
	t.Helper()
	double := awsdouble.New(awsdouble.Options{})
	ts := httptest.NewServer(double)
	t.Cleanup(ts.Close)
	key := double.CreateKey("alias/kmswatch-test")
	return &fixture{double: double, key: key, crypto: kms.New(newClient(ts.URL, fastRetries), key.ID, 0)}
}

func newClient(endpoint string, fastRetries bool) *awskms.Client {
	// The production client options, so every test goes through SendInOneWrite.
	return awskms.NewFromConfig(awsdouble.ClientConfig(endpoint), kms.SendInOneWrite, func(o *awskms.Options) {
		o.Retryer = kms.NewRetryer()
		if fastRetries {
			o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, time.Millisecond)
		}
	})
}

func TestEncryptDecrypt_RoundTrip(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	ct, keyID, err := f.crypto.Encrypt(ctx, "alice", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if keyID != f.key.ARN {
		t.Errorf("key id = %q, want the key ARN %q", keyID, f.key.ARN)
	}
	if strings.Contains(string(ct), "hello") {
		t.Fatal("ciphertext contains the plaintext")
	}
	for _, callerKey := range []string{keyID, f.key.ID, "alias/kmswatch-test"} {
		pt, _, err := f.crypto.Decrypt(ctx, "alice", callerKey, ct)
		if err != nil || string(pt) != "hello" {
			t.Fatalf("Decrypt with %q = %q, %v", callerKey, pt, err)
		}
	}
}

// TestDecrypt_RequestIDIsCloudTrails: the request id Decrypt returns is the
// requestID of the CloudTrail record of that very call, one per call, so a
// trail's Decrypt can be matched with the app's decrypt_served line.
func TestDecrypt_RequestIDIsCloudTrails(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	ct, _, err := f.crypto.Encrypt(ctx, "alice", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 3 {
		_, requestID, err := f.crypto.Decrypt(ctx, "alice", f.key.ARN, ct)
		if err != nil {
			t.Fatal(err)
		}
		records := f.double.Records()
		var last struct{ EventName, RequestID string }
		if err := json.Unmarshal(records[len(records)-1], &last); err != nil {
			t.Fatal(err)
		}
		if last.EventName != "Decrypt" || requestID == "" || requestID != last.RequestID {
			t.Fatalf("Decrypt returned request id %q; the call's CloudTrail record is %+v", requestID, last)
		}
		if seen[requestID] {
			t.Fatalf("request id %q returned twice", requestID)
		}
		seen[requestID] = true
	}
}

func TestDecrypt_RefusalsComeFromKMS(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	ct, _, err := f.crypto.Encrypt(ctx, "alice", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	other := f.double.CreateKey("alias/other")
	tests := []struct {
		name, record, key, wantKMSError string
	}{
		{"another existing key", "alice", other.ARN, "IncorrectKeyException"},
		{"well-formed key id that does not exist", "alice", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000", "NotFoundException"},
		{"garbage key id", "alice", "not-a-key", "NotFoundException"},
		{"right key, ciphertext moved to another name", "mallory", f.key.ARN, "InvalidCiphertextException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.double.Calls("Decrypt")
			_, _, err := f.crypto.Decrypt(ctx, tt.record, tt.key, ct)
			if app.ErrorCode(err) != app.EKEYREFUSED || app.ErrorMessage(err) != app.KeyRefusedMessage {
				t.Fatalf("err = %v, want EKEYREFUSED with the lab's message", err)
			}
			if d := app.ErrorDetail(err); d != tt.wantKMSError {
				t.Errorf("detail = %q, want %q", d, tt.wantKMSError)
			}
			if strings.Contains(err.Error(), tt.key) {
				t.Errorf("error text quotes the caller's key: %v", err)
			}
			if calls := f.double.Calls("Decrypt") - before; calls != 1 {
				t.Errorf("KMS Decrypt calls = %d, want 1 (refusals are not retried)", calls)
			}
		})
	}
}

// TestDecrypt_CloudTrailSeesRefusal checks what the monitoring relies on: the
// failed call and its encryption context reach KMS and so CloudTrail.
func TestDecrypt_CloudTrailSeesRefusal(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	ct, _, err := f.crypto.Encrypt(ctx, "alice", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	other := f.double.CreateKey("")
	if _, _, err := f.crypto.Decrypt(ctx, "alice", other.ARN, ct); app.ErrorCode(err) != app.EKEYREFUSED {
		t.Fatalf("err = %v", err)
	}
	records := f.double.Records()
	var last struct {
		EventName         string
		ErrorCode         string
		RequestParameters struct{ EncryptionContext map[string]string }
	}
	if err := json.Unmarshal(records[len(records)-1], &last); err != nil {
		t.Fatal(err)
	}
	if last.EventName != "Decrypt" || last.ErrorCode != "IncorrectKeyException" || last.RequestParameters.EncryptionContext["Name"] != "alice" {
		t.Fatalf("last CloudTrail record = %+v", last)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	// Production retry settings, no fast backoff: the retries fit the deadline.
	f := newFixture(t, false)
	f.double.InjectFault(awsdouble.Fault{Operation: "Encrypt", ErrorType: "ThrottlingException", Times: 3})
	start := time.Now()
	if _, _, err := f.crypto.Encrypt(context.Background(), "alice", []byte("hello")); err != nil {
		t.Fatalf("Encrypt after 3 throttles: %v", err)
	}
	if calls := f.double.Calls("Encrypt"); calls != 4 {
		t.Errorf("Encrypt calls = %d, want 4 (3 throttled + 1)", calls)
	}
	if elapsed := time.Since(start); elapsed > kms.DefaultTimeout {
		t.Errorf("retries took %v, longer than the call deadline", elapsed)
	}
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		fault      awsdouble.Fault
		wantDetail string
	}{
		{"throttled beyond the retries", awsdouble.Fault{ErrorType: "ThrottlingException", Times: 100}, "ThrottlingException"},
		{"KMS internal error", awsdouble.Fault{ErrorType: "KMSInternalException", Times: 100}, "KMSInternalException"},
		// Common errors the SDK has no type for: it decodes them with an unknown fault.
		{"ServiceUnavailable 503", awsdouble.Fault{ErrorType: "ServiceUnavailable", Times: 100}, "ServiceUnavailable"},
		{"InternalFailure 500", awsdouble.Fault{ErrorType: "InternalFailure", Times: 100}, "InternalFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			f.double.InjectFault(tt.fault)
			_, _, encErr := f.crypto.Encrypt(context.Background(), "alice", []byte("hello"))
			_, _, decErr := f.crypto.Decrypt(context.Background(), "alice", f.key.ARN, []byte("x"))
			for _, err := range []error{encErr, decErr} {
				if app.ErrorCode(err) != app.EUNAVAILABLE || app.ErrorDetail(err) != tt.wantDetail {
					t.Errorf("err = %v, want EUNAVAILABLE with detail %s", err, tt.wantDetail)
				}
			}
		})
	}
}

// TestDisabledKey: once the key is disabled, decrypts are refused (the caller
// sees 403) and encrypts are unavailable (not the caller's fault).
func TestDisabledKey(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	ct, keyID, err := f.crypto.Encrypt(ctx, "alice", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.double.DisableKey(f.key.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.crypto.Decrypt(ctx, "alice", keyID, ct)
	if app.ErrorCode(err) != app.EKEYREFUSED || app.ErrorDetail(err) != "DisabledException" {
		t.Errorf("Decrypt err = %v, want EKEYREFUSED/DisabledException", err)
	}
	_, _, err = f.crypto.Encrypt(ctx, "alice", []byte("hello"))
	if app.ErrorCode(err) != app.EUNAVAILABLE || app.ErrorDetail(err) != "DisabledException" {
		t.Errorf("Encrypt err = %v, want EUNAVAILABLE/DisabledException", err)
	}
}

func TestUnreachableKMS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := "http://" + ln.Addr().String()
	ln.Close()
	crypto := kms.New(newClient(closedPort, true), "alias/any", time.Second)
	_, _, err = crypto.Encrypt(context.Background(), "alice", []byte("hello"))
	if app.ErrorCode(err) != app.EUNAVAILABLE || app.ErrorDetail(err) != "TransportError" {
		t.Fatalf("err = %v, want EUNAVAILABLE/TransportError", err)
	}
}

func TestSlowKMSHitsTheDeadline(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		<-release
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets Close finish
	crypto := kms.New(newClient(slow.URL, true), "alias/any", 100*time.Millisecond)
	start := time.Now()
	_, _, err := crypto.Decrypt(context.Background(), "alice", "k", []byte("x"))
	if app.ErrorCode(err) != app.EUNAVAILABLE || app.ErrorDetail(err) != "Timeout" {
		t.Fatalf("err = %v, want EUNAVAILABLE/Timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("call took %v despite a 100ms deadline", elapsed)
	}
}
