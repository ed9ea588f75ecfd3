package awsdouble

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// apiError is an AWS error response: the __type and message of the JSON body.
type apiError struct{ errType, message string }

// errorStatus holds the HTTP status of each error type that is not 400, as the API references list them
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#API_Decrypt_Errors ,
// https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html ,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html#API_GetSecretValue_Errors);
// ThrottlingException is a 400 (https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html).
// The 500s are the shapes botocore's model marks "fault": true. The Smithy model's httpError traits differ
// (404 NotFoundException, 409 DisabledException); the API reference and SDK error reports from the field say 400.
var errorStatus = map[string]int{
	"DependencyTimeoutException": http.StatusInternalServerError,
	"KMSInternalException":       http.StatusInternalServerError,
	"KeyUnavailableException":    http.StatusInternalServerError,
	"InternalFailure":            http.StatusInternalServerError,
	"InternalServiceError":       http.StatusInternalServerError,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
	"DryRunOperationException":   http.StatusPreconditionFailed,
}

func statusOf(errType string) int {
	if code, ok := errorStatus[errType]; ok {
		return code
	}
	return http.StatusBadRequest
}

// faultMessages are the messages AWS sends with the error types tests usually inject.
var faultMessages = map[string]string{
	"ThrottlingException":        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
	"KMSInternalException":       "An internal error occurred. Try your request again.",
	"DependencyTimeoutException": "The system timed out while trying to fulfill the request. You can retry the request.",
	"KeyUnavailableException":    "The request was rejected because the specified KMS key was not available. You can retry the request.",
	"InternalServiceError":       "An error occurred on the server side.",
}

func faultError(source, errType string) *apiError {
	msg, ok := faultMessages[errType]
	if source == secretsSource && errType == "ThrottlingException" {
		msg = "Rate exceeded"
	} else if !ok {
		msg = "The request was rejected (fault injected by awsdouble)."
	}
	return &apiError{errType: errType, message: msg}
}

const (
	kmsTarget     = "TrentService."
	secretsTarget = "secretsmanager."
	maxBodyBytes  = 1 << 20
	kmsSource     = "kms.amazonaws.com"
	secretsSource = "secretsmanager.amazonaws.com"
)

// scratch holds one request's body and response; pooled because every request needs both.
type scratch struct {
	in  bytes.Buffer
	out []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{out: make([]byte, 0, 2048)} }}

// operationFunc parses one request body, fills ev, and appends the response body to out.
type operationFunc func(s *Server, body []byte, ev *event, out []byte) ([]byte, *apiError)

var kmsOperations = map[string]operationFunc{
	"Encrypt":         (*Server).encrypt,
	"Decrypt":         (*Server).decrypt,
	"GenerateDataKey": (*Server).generateDataKey,
	"DescribeKey":     (*Server).describeKey,
}

var secretsOperations = map[string]operationFunc{
	"GetSecretValue": (*Server).getSecretValue,
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.in.Reset()

	var ids [32]byte
	fillRandom(ids[:])
	var idText [72]byte
	requestID := string(appendUUID(idText[:0], ids[:16]))
	ev := event{
		requestID:   requestID,
		eventID:     string(appendUUID(idText[36:36], ids[16:])),
		sourceIP:    remoteIP(r.RemoteAddr),
		userAgent:   r.UserAgent(),
		accessKeyID: accessKeyID(r.Header.Get("Authorization")),
	}

	target := r.Header.Get("X-Amz-Target")
	var op operationFunc
	switch {
	case strings.HasPrefix(target, kmsTarget):
		ev.source, ev.name = kmsSource, target[len(kmsTarget):]
		op = kmsOperations[ev.name]
	case strings.HasPrefix(target, secretsTarget):
		ev.source, ev.name = secretsSource, target[len(secretsTarget):]
		op = secretsOperations[ev.name]
	default:
		ev.name = target
	}
	s.countCall(ev.name)

	h := w.Header()
	h["Content-Type"] = []string{"application/x-amz-json-1.1"}
	h["X-Amzn-Requestid"] = []string{requestID}
	if op == nil {
		// AWS does not log calls to operations that do not exist.
		sc.out = writeError(w, sc.out, ev.source, &apiError{errType: "UnknownOperationException"})
		return
	}
	if _, err := sc.in.ReadFrom(io.LimitReader(r.Body, maxBodyBytes)); err != nil {
		sc.out = writeError(w, sc.out, ev.source, &apiError{errType: "SerializationException", message: "could not read the request body"})
		return
	}

	resp, aerr := op(s, sc.in.Bytes(), &ev, sc.out[:0])
	if aerr != nil {
		ev.errorCode, ev.errorMessage = aerr.errType, aerr.message
		sc.out = writeError(w, sc.out, ev.source, aerr)
	} else {
		h["Content-Length"] = []string{strconv.Itoa(len(resp))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp) // a failed write is the caller gone: nothing left to tell it
		sc.out = resp[:0]    // keeps a grown buffer for the pool
	}
	s.record(&ev)
}

// writeError sends err the way JSON 1.1 services do, using buf; KMS spells the member "message",
// Secrets Manager "Message" (the SDK reads either).
func writeError(w http.ResponseWriter, buf []byte, source string, err *apiError) []byte {
	b := buf[:0]
	b = append(b, `{"__type":`...)
	b = appendJSONString(b, err.errType)
	if err.message != "" {
		if source == secretsSource {
			b = append(b, `,"Message":`...)
		} else {
			b = append(b, `,"message":`...)
		}
		b = appendJSONString(b, err.message)
	}
	b = append(b, '}')
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(statusOf(err.errType))
	_, _ = w.Write(b) // as above: the caller is gone
	return b[:0]
}

func (s *Server) record(ev *event) {
	rec := json.RawMessage(s.appendRecord(make([]byte, 0, 1536), ev, s.opts.Now()))
	s.trail.add(rec)
	if s.opts.OnRecord != nil {
		s.opts.OnRecord(rec)
	}
}

// decodeRequest unmarshals a JSON 1.1 request body; an empty body is an empty object.
func decodeRequest(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{errType: "SerializationException", message: "Start of structure or map found where not expected."}
	}
	return nil
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// accessKeyID takes the key id from a SigV4 Authorization header ("... Credential=AKID/date/region/service/aws4_request, ...").
func accessKeyID(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}
