package awsdouble

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// apiError is an AWS error response: its error code (JSON __type, query Code) and message.
type apiError struct{ errType, message string }

// errorStatus holds the HTTP status of each error type that is not 400, as the API references list them
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#API_Decrypt_Errors ,
// https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html ,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html#API_GetSecretValue_Errors ,
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html#API_GetRolePolicy_Errors ,
// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors);
// ThrottlingException is a 400 (https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html).
// The 500s are the shapes botocore's model marks "fault": true. The Smithy model's httpError traits differ
// (404 NotFoundException, 409 DisabledException); the API reference and SDK error reports from the field say 400.
var errorStatus = map[string]int{
	"DependencyTimeoutException": http.StatusInternalServerError,
	"KMSInternalException":       http.StatusInternalServerError,
	"KeyUnavailableException":    http.StatusInternalServerError,
	"InternalFailure":            http.StatusInternalServerError,
	"InternalServiceError":       http.StatusInternalServerError,
	"ServiceFailure":             http.StatusInternalServerError,
	"ServerException":            http.StatusInternalServerError,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
	"DryRunOperationException":   http.StatusPreconditionFailed,
	// Query protocol services (IAM, STS, SNS): https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
	"InvalidClientTokenId":       http.StatusForbidden,
	"MissingAuthenticationToken": http.StatusForbidden,
	"AccessDenied":               http.StatusForbidden,
	"AuthorizationError":         http.StatusForbidden,
	"NoSuchEntity":               http.StatusNotFound,
	"NotFound":                   http.StatusNotFound,
	"LimitExceeded":              http.StatusConflict,
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

const maxBodyBytes = 1 << 20

// scratch holds one request's body, response and event; pooled because every request needs them (the
// event escapes through the operation functions, so it would otherwise cost an allocation per request).
type scratch struct {
	in  bytes.Buffer
	out []byte
	ev  event
}

var scratchPool = sync.Pool{New: func() any { return &scratch{out: make([]byte, 0, 2048)} }}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.in.Reset()

	var ids [32]byte
	fillRandom(ids[:])
	var idText [72]byte
	requestID := string(appendUUID(idText[:0], ids[:16]))
	ev := &sc.ev
	*ev = event{
		requestID: requestID,
		eventID:   string(appendUUID(idText[36:36], ids[16:])),
		sourceIP:  sourceIP(r),
		userAgent: r.UserAgent(),
	}
	auth := r.Header.Get("Authorization")
	accessKey, scope := parseCredentialScope(auth)

	h := w.Header()
	h["X-Amzn-Requestid"] = []string{requestID}
	if _, err := sc.in.ReadFrom(io.LimitReader(r.Body, maxBodyBytes)); err != nil {
		h["Content-Type"] = []string{jsonContentType}
		sc.out = writeJSONError(w, sc.out, kmsService, &apiError{errType: "SerializationException", message: "could not read the request body"}, nil)
		return
	}
	body := sc.in.Bytes()

	svc, opName := routeJSON(r.Header.Get("X-Amz-Target"))
	if svc == nil && r.Method == http.MethodPost && isForm(r.Header.Get("Content-Type")) {
		form, err := url.ParseQuery(string(body))
		if err == nil {
			svc, opName, ev.form = routeQuery(scope, form), form.Get("Action"), form
		}
	}
	ev.name = opName
	s.countCall(opName)
	if svc == nil {
		// AWS does not log calls to operations that do not exist.
		h["Content-Type"] = []string{jsonContentType}
		sc.out = writeJSONError(w, sc.out, kmsService, &apiError{errType: "UnknownOperationException"}, nil)
		return
	}
	ev.svc, ev.source = svc, svc.source
	op, ok := svc.operations[opName]
	if !ok {
		sc.out = s.writeError(w, sc.out, ev, svc.unknownOperation(opName))
		return
	}
	// Calls that fail authentication reach no account, so CloudTrail records them nowhere.
	if ev.principal, ok = s.authenticate(accessKey, r.Header.Get("X-Amz-Security-Token")); !ok {
		sc.out = s.writeError(w, sc.out, ev, svc.unauthenticated(auth != "" && accessKey != ""))
		return
	}
	ev.at = s.opts.Now().UTC()
	ev.readOnly, ev.dataEvent = op.readOnly, op.dataEvent

	resp, aerr := op.fn(s, body, ev, sc.out[:0])
	if aerr != nil {
		ev.errorCode, ev.errorMessage = aerr.errType, aerr.message
		sc.out = s.writeError(w, sc.out, ev, aerr)
	} else {
		if svc.protocol == queryProtocol {
			resp = svc.wrapResult(resp, opName, requestID)
		}
		h["Content-Type"] = []string{svc.contentType()}
		h["Content-Length"] = []string{strconv.Itoa(len(resp))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp) // a failed write is the caller gone: nothing left to tell it
		sc.out = resp[:0]    // keeps a grown buffer for the pool
	}
	s.record(ev)
}

// authenticate maps the signing access key id to its principal; a session's key is valid only with the
// session token STS issued with it.
func (s *Server) authenticate(accessKeyID, token string) (*principal, bool) {
	p := s.lookupPrincipal(accessKeyID)
	if p == nil || p.sessionToken != token {
		return nil, false
	}
	return p, true
}

func (s *Server) writeError(w http.ResponseWriter, buf []byte, ev *event, err *apiError) []byte {
	w.Header()["Content-Type"] = []string{ev.svc.contentType()}
	if ev.svc.protocol == queryProtocol {
		return writeQueryError(w, buf, ev.svc, err, ev.requestID)
	}
	return writeJSONError(w, buf, ev.svc, err, ev.errorExtra)
}

// writeJSONError sends err the way the JSON services do, using buf, with extra members when given (the
// Item of DynamoDB's failed condition); KMS, ECS and DynamoDB spell the message member "message", Secrets
// Manager "Message" (the SDK reads either).
func writeJSONError(w http.ResponseWriter, buf []byte, svc *service, err *apiError, extra []byte) []byte {
	b := buf[:0]
	b = append(b, `{"__type":`...)
	b = appendJSONString(b, err.errType)
	if err.message != "" {
		b = append(b, `,"`...)
		b = append(b, svc.messageMember...)
		b = append(b, `":`...)
		b = appendJSONString(b, err.message)
	}
	if len(extra) > 0 {
		b = append(append(b, ','), extra...)
	}
	b = append(b, '}')
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(statusOf(err.errType))
	_, _ = w.Write(b) // as above: the caller is gone
	return b[:0]
}

func (s *Server) record(ev *event) {
	rec := json.RawMessage(s.appendRecord(make([]byte, 0, 1536), ev))
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

// sourceIP is the caller's address: the first X-Forwarded-For entry when it is an IP address (so a test can
// play a caller elsewhere, as a proxy in front of the double would report it), else the connection's peer.
func sourceIP(r *http.Request) string {
	if fwd := r.Header["X-Forwarded-For"]; len(fwd) > 0 {
		first, _, _ := strings.Cut(fwd[0], ",")
		if addr, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return addr.String()
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// parseCredentialScope takes the access key id and the service from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kms/aws4_request, SignedHeaders=..., Signature=...").
// Signatures are not verified: the SDK signs correctly, and tests need the identity, not the cryptography.
func parseCredentialScope(auth string) (accessKeyID, service string) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	accessKeyID, rest, _ := strings.Cut(cred, "/")
	for range 2 { // date, region
		_, rest, _ = strings.Cut(rest, "/")
	}
	service, _, _ = strings.Cut(rest, "/")
	return accessKeyID, service
}

func isForm(contentType string) bool {
	return strings.HasPrefix(contentType, "application/x-www-form-urlencoded")
}
