package app

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status code.
const (
	EINVALID     = "invalid"     // the request is malformed or breaks a limit
	ENOTFOUND    = "not_found"   // no record under that name
	EKEYREFUSED  = "key_refused" // the key service refused the caller's key
	EUNAVAILABLE = "unavailable" // a dependency (database, KMS) cannot answer now
	ETOOLARGE    = "too_large"   // the request body is over the size limit
	EUNSUPPORTED = "unsupported" // the request has the wrong content type
	EINTERNAL    = "internal"    // a bug or an unexpected answer; details only in logs
)

// Error is a domain error: a machine-readable Code, a Message safe to show the
// caller, a Detail safe to log (e.g. the KMS error type, never user data) and
// the underlying cause for operators.
type Error struct {
	Code    string
	Message string
	Detail  string
	Err     error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("app error: code=%s message=%s", e.Code, e.Message)
	if e.Detail != "" {
		msg += " detail=" + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-facing message of err; errors that are not
// *Error are internal and get a generic message, their text stays in the logs.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error"
}

// ErrorDetail returns the loggable detail of the first *Error in err's chain.
func ErrorDetail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}
