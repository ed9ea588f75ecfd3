// Package kms implements app.Crypto with AWS KMS (aws-sdk-go-v2). Each text is
// bound to its record with the encryption context {"Name": name}, and decrypts
// use the caller's key id as given, so that KMS, not this service, refuses a
// wrong key and CloudTrail records the refusal.
package kms

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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

// Decrypt decrypts ciphertext with the caller's keyID, bound to name. It
// returns the request id KMS answered with (its x-amzn-RequestId header),
// which CloudTrail records as the event's requestID: "The value that
// identifies the request. The service being called generates this value."
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
func (c *Crypto) Decrypt(ctx context.Context, name, keyID string, ciphertext []byte) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(keyID),
		CiphertextBlob:    ciphertext,
		EncryptionContext: encryptionContext(name),
	})
	if err != nil {
		return nil, "", decryptError(err)
	}
	requestID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return out.Plaintext, requestID, nil
}

// refusalCodes are the Decrypt errors that are KMS's verdict on the caller's
// key: the only ones answered 403 and logged as a refusal. Anything else (our
// own credentials rejected, an error type KMS adds later, a proxy's answer)
// says nothing about the key, so it is reported as unavailable (503): telling
// a caller their key is wrong, and counting a refusal, for a failure of ours
// is the worse mistake. KMS still logs any call it answered in CloudTrail.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#API_Decrypt_Errors
// https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html
var refusalCodes = map[string]bool{
	"IncorrectKeyException":      true, // the key is not the one that encrypted the record
	"NotFoundException":          true, // no such key; KMS's answer to a malformed key id too ("Invalid keyId ...")
	"InvalidCiphertextException": true, // the record name (encryption context) or the blob does not match
	"DisabledException":          true,
	"KMSInvalidStateException":   true, // pending deletion, pending import, unavailable key store
	"AccessDeniedException":      true, // key policy or IAM denies this service that key (for our own key: a deploy fault, still in CloudTrail)
	"InvalidKeyUsageException":   true, // a signing or asymmetric key
	"ValidationException":        true, // the key id breaks KMS's length constraint (1-2048)
}

// decryptError maps a KMS Decrypt failure: a refusal code in a KMS answer
// below 500 is the caller's key refused; everything else is unavailable.
// Error messages are dropped: they quote key ids.
func decryptError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && refusalCodes[apiErr.ErrorCode()] && httpStatus(err) < 500 {
		return &app.Error{Code: app.EKEYREFUSED, Message: app.KeyRefusedMessage, Detail: apiErr.ErrorCode()}
	}
	return unavailable(err)
}

// encryptError maps a KMS Encrypt failure. The key is ours, so no failure is
// the caller's fault: the service is unavailable until the key is usable.
func encryptError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" && httpStatus(err) < 500 {
		// Inputs are validated before the call: this is a bug.
		return &app.Error{Code: app.EINTERNAL, Message: "Internal error", Detail: apiErr.ErrorCode()}
	}
	return unavailable(err)
}

// sdkUnknownErrorCode is the code the SDK gives an error answer without an
// AWS error type (an empty body, or JSON without "__type").
const sdkUnknownErrorCode = "UnknownError"

// unavailable maps throttling after retries, KMS server faults, unknown
// errors, answers that are not KMS's (Detail "HTTP 502"), timeouts and
// transport failures. Only timeouts, cancellations and transport failures keep
// their text: an error body could quote key ids, an undecodable one anything.
func unavailable(err error) error {
	e := &app.Error{Code: app.EUNAVAILABLE, Message: "Key service unavailable, try again later"}
	var apiErr smithy.APIError
	status := httpStatus(err)
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() != sdkUnknownErrorCode:
		e.Detail = apiErr.ErrorCode()
	case status != 0:
		e.Detail = "HTTP " + strconv.Itoa(status)
	case errors.Is(err, context.DeadlineExceeded):
		e.Detail, e.Err = "Timeout", err
	case errors.Is(err, context.Canceled):
		e.Detail, e.Err = "Canceled", err
	default:
		e.Detail, e.Err = "TransportError", err
	}
	return e
}

// httpStatus is the status of the HTTP answer behind err, 0 if none came.
func httpStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}
