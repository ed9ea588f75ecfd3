package app

// DecryptFailure says why a decrypt was not answered 200. It is the "reason"
// of the service's decrypt_failed log line, which the app-decrypt-denied rule
// counts, and it names the failure's metric.
type DecryptFailure string

// The reasons a decrypt fails.
const (
	ReasonKMSRefused       DecryptFailure = "kms_refused"       // KMS refused the caller's key (403)
	ReasonUnknownName      DecryptFailure = "unknown_name"      // no record under that Name (404)
	ReasonInvalidRequest   DecryptFailure = "invalid_request"   // bad input (400, 413, 415)
	ReasonKMSUnavailable   DecryptFailure = "kms_unavailable"   // KMS gave no verdict on the key (503)
	ReasonStoreUnavailable DecryptFailure = "store_unavailable" // the database did not answer (503)
	ReasonInternal         DecryptFailure = "internal"          // a bug or an unexpected answer (500)
	ReasonClientCanceled   DecryptFailure = "client_canceled"   // the caller hung up before the answer
)

// DecryptFailures lists every DecryptFailure once, in a fixed order.
var DecryptFailures = []DecryptFailure{
	ReasonKMSRefused, ReasonUnknownName, ReasonInvalidRequest,
	ReasonKMSUnavailable, ReasonStoreUnavailable, ReasonInternal, ReasonClientCanceled,
}

// Meter counts what the service did, for its own metrics. The HTTP layer
// calls it on every request from many goroutines, so an implementation must
// be safe for concurrent use and cheap: no lock, no I/O on the caller's path.
type Meter interface {
	// EncryptStored counts an encrypt whose record was committed (a 200).
	EncryptStored()
	// DecryptServed counts a decrypt that KMS answered with the plaintext.
	DecryptServed()
	// DecryptFailed counts a decrypt that was not answered 200.
	DecryptFailed(reason DecryptFailure)
}
