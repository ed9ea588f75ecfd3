// Package awsdouble is an in-process stand-in for AWS KMS and Secrets Manager that speaks their real
// JSON 1.1 wire protocol, so the unmodified aws-sdk-go-v2 clients work against it through BaseEndpoint.
// Every request also yields a CloudTrail-shaped record, which the detection rules replay.
package awsdouble

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	Region    string // default "us-east-1"
	AccountID string // default "111122223333"
	// RoleARN is the IAM role the caller is assumed to be; recorded as userIdentity.sessionContext.sessionIssuer.arn
	// (the monitoring's filter keys on it). Default "arn:aws:iam::111122223333:role/kmswatch-task".
	RoleARN    string
	MaxRecords int                   // ring of kept records; default 10000; older dropped
	OnRecord   func(json.RawMessage) // optional: called (synchronously, under no lock) with each CloudTrail record
	Now        func() time.Time      // default time.Now
}

// Key identifies a KMS key held by the double.
type Key struct{ ID, ARN string }

// Fault makes the next Times calls of Operation fail with ErrorType.
type Fault struct {
	Operation string // "Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "GetSecretValue"; "" = any
	ErrorType string // AWS error type name, e.g. "ThrottlingException", "KMSInternalException", "DependencyTimeoutException"
	Times     int    // number of calls that fail, then the fault is spent
}

// Server is the double. It is safe for concurrent use.
type Server struct {
	opts    Options
	started time.Time

	keysMu  sync.RWMutex
	keys    map[string]*kmsKey // by id, key ARN, alias name and alias ARN
	secMu   sync.RWMutex
	secrets map[string]*secret // by name and ARN

	faultsMu      sync.Mutex
	faults        []Fault
	faultsPending atomic.Int64 // lets the hot path skip faultsMu when no fault is armed

	calls   map[string]*atomic.Int64 // the known operations, fixed at New
	otherMu sync.Mutex
	other   map[string]int64 // anything else that arrived

	trail trailRing
	ident identity
}

const (
	defaultRegion  = "us-east-1"
	defaultAccount = "111122223333"
	defaultRoleARN = "arn:aws:iam::111122223333:role/kmswatch-task"
)

// knownOperations are the operations the double implements, by the name X-Amz-Target carries after the dot.
var knownOperations = []string{"Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "GetSecretValue"}

// New returns a Server with no keys and no secrets.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = defaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = defaultAccount
	}
	if opts.RoleARN == "" {
		opts.RoleARN = defaultRoleARN
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		started: opts.Now().UTC(),
		keys:    map[string]*kmsKey{},
		secrets: map[string]*secret{},
		calls:   make(map[string]*atomic.Int64, len(knownOperations)),
		other:   map[string]int64{},
	}
	for _, op := range knownOperations {
		s.calls[op] = new(atomic.Int64)
	}
	s.trail.init(opts.MaxRecords)
	s.ident = newIdentity(opts.RoleARN, opts.AccountID, s.started)
	return s
}

// InjectFault arms f; armed faults are consumed in the order they were injected.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 || f.ErrorType == "" {
		return
	}
	s.faultsMu.Lock()
	s.faults = append(s.faults, f)
	s.faultsPending.Store(int64(len(s.faults)))
	s.faultsMu.Unlock()
}

// takeFault returns the error type of the first armed fault matching op, spending one of its calls.
func (s *Server) takeFault(op string) (string, bool) {
	if s.faultsPending.Load() == 0 {
		return "", false
	}
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Operation != "" && f.Operation != op {
			continue
		}
		errType := f.ErrorType
		if f.Times--; f.Times == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			s.faultsPending.Store(int64(len(s.faults)))
		}
		return errType, true
	}
	return "", false
}

// Calls reports how many requests of operation arrived, failed ones included.
func (s *Server) Calls(operation string) int {
	if c, ok := s.calls[operation]; ok {
		return int(c.Load())
	}
	s.otherMu.Lock()
	defer s.otherMu.Unlock()
	return int(s.other[operation])
}

func (s *Server) countCall(op string) {
	if c, ok := s.calls[op]; ok {
		c.Add(1)
		return
	}
	s.otherMu.Lock()
	s.other[op]++
	s.otherMu.Unlock()
}

// Records returns the kept CloudTrail records, oldest first.
func (s *Server) Records() []json.RawMessage { return s.trail.snapshot() }

// ClientConfig is an SDK config aimed at a double at endpoint: region us-east-1, static test credentials and
// the SDK's default (standard) retryer, so retries behave as they would against AWS. Its HTTP client keeps
// more idle connections per host than the SDK's 10, because everything goes to one host here and
// concurrent callers would otherwise open a new connection per request.
func ClientConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       defaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      func() aws.Retryer { return retry.NewStandard() },
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = idleConnsPerHost
		}),
	}
}

const idleConnsPerHost = 128

// ServeHTTP answers one JSON 1.1 request, routed by X-Amz-Target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }
