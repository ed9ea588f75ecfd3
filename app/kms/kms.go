// Package kms implements app.Crypto with AWS KMS (aws-sdk-go-v2). Each text is
// bound to its record with the encryption context {"Name": name}, and decrypts
// use the caller's key id as given, so that KMS, not this service, refuses a
// wrong key and CloudTrail records the refusal.
package kms

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/kmswatch/kmswatch/app"
)

// DefaultTimeout bounds one KMS call, retries included.
const DefaultTimeout = 5 * time.Second

// Crypto is the KMS-backed app.Crypto.
type Crypto struct {
	client  *kms.Client
	keyID   string
	timeout time.Duration
}

var _ app.Crypto = (*Crypto)(nil)

// New returns a Crypto that encrypts with keyID (id, ARN or alias) and gives
// each call at most timeout (DefaultTimeout if zero).
func New(client *kms.Client, keyID string, timeout time.Duration) *Crypto {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Crypto{client: client, keyID: keyID, timeout: timeout}
}

// NewRetryer is the SDK's standard retryer (same retryable errors, same retry
// quota) with 5 attempts and a full-jitter backoff from 100ms up to 1s, so
// throttling is ridden out within one call's deadline. The SDK's own backoff
// counts in whole seconds and, capped at 1s, would retry in lockstep.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.Backoff = fullJitter{base: 100 * time.Millisecond, max: time.Second}
	})
}

// fullJitter waits a random time in [0, min(max, base*2^(attempt-1))).
// https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
type fullJitter struct{ base, max time.Duration }

func (j fullJitter) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	ceiling := j.max
	if attempt < 1 {
		attempt = 1
	}
	if attempt < 16 {
		ceiling = min(j.max, j.base<<(attempt-1))
	}
	return rand.N(ceiling) + time.Millisecond, nil //nolint:gosec // jitter spreads retries; it needs no secrecy
}

// encryptionContext binds a ciphertext to its record name; KMS requires the
// same context to decrypt and logs it in CloudTrail.
// https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html
func encryptionContext(name string) map[string]string {
	return map[string]string{"Name": name}
}

// Encrypt encrypts plaintext under the configured key, bound to name.
func (c *Crypto) Encrypt(ctx context.Context, name string, plaintext []byte) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(c.keyID),
		Plaintext:         plaintext,
		EncryptionContext: encryptionContext(name),
	})
	if err != nil {
		return nil, "", encryptError(err)
	}
	keyID := aws.ToString(out.KeyId) // the key ARN, whatever form KMS_KEY_ID has
	if keyID == "" {
		keyID = c.keyID
	}
	return out.CiphertextBlob, keyID, nil
}

// Decrypt decrypts ciphertext with the caller's keyID, bound to name.
func (c *Crypto) Decrypt(ctx context.Context, name, keyID string, ciphertext []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(keyID),
		CiphertextBlob:    ciphertext,
		EncryptionContext: encryptionContext(name),
	})
	if err != nil {
		return nil, decryptError(err)
	}
	return out.Plaintext, nil
}

// decryptError maps a KMS Decrypt failure. Any client-side refusal (wrong,
// unknown, disabled or malformed key; context mismatch; access denied) is the
// caller's key being refused. Error messages are dropped: they quote key ids.
func decryptError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorFault() != smithy.FaultServer && !isThrottling(apiErr) {
		return &app.Error{Code: app.EKEYREFUSED, Message: app.KeyRefusedMessage, Detail: apiErr.ErrorCode()}
	}
	return unavailable(err)
}

// encryptError maps a KMS Encrypt failure. The key is ours, so no failure is
// the caller's fault: the service is unavailable until the key is usable.
func encryptError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" {
		// Inputs are validated before the call: this is a bug.
		return &app.Error{Code: app.EINTERNAL, Message: "Internal error", Detail: apiErr.ErrorCode()}
	}
	return unavailable(err)
}

// unavailable maps throttling after retries, KMS server faults, timeouts and
// transport failures. Only transport errors keep their text (no key ids in them).
func unavailable(err error) error {
	e := &app.Error{Code: app.EUNAVAILABLE, Message: "Key service unavailable, try again later"}
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		e.Detail = apiErr.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		e.Detail, e.Err = "Timeout", err
	case errors.Is(err, context.Canceled):
		e.Detail, e.Err = "Canceled", err
	default:
		e.Detail, e.Err = "TransportError", err
	}
	return e
}

func isThrottling(apiErr smithy.APIError) bool {
	_, ok := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]
	return ok
}
