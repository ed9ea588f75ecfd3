// Package awsdouble is an in-process stand-in for the AWS services kmswatch's app, responder and rehearsals
// call: KMS, Secrets Manager and ECS (JSON 1.1), DynamoDB (JSON 1.0), IAM, STS and SNS (query protocol), all
// on one endpoint, so
// the unmodified aws-sdk-go-v2 clients work against it through BaseEndpoint. Every call of an operation it
// serves, by a caller it knows, yields a CloudTrail record as CloudTrail writes it, failed calls included,
// which the detection rules replay.
//
// # Identities
//
// Requests are authenticated by the access key id in their SigV4 Authorization header (signatures are not
// verified); a session's key needs its session token. An unknown key is refused as AWS refuses it
// (UnrecognizedClientException, or InvalidClientTokenId for the query services) and leaves no record.
// The principals:
//
//   - the task role (Options.RoleARN): New starts the ECS service Options.Cluster/Options.Service with
//     Options.DesiredCount tasks, each running with a session of the task role named after its task id.
//     The first task's session has DefaultCredentials, which ClientConfig signs with;
//   - any other role session, of this account or another (an outside caller): AssumeRole;
//   - an IAM user with a long-term key: AddUser.
//
// Each record's userIdentity is CloudTrail's for that identity type, and its sourceIPAddress is the
// request's X-Forwarded-For (first entry) or else the peer address: ClientConfigFor(endpoint, creds, ip)
// makes a client that calls from ip, so a test can play stolen credentials used from elsewhere.
//
// # What the responder and the scenarios drive
//
//   - IAM PutRolePolicy, DeleteRolePolicy, GetRolePolicy (the document URL-encoded, as IAM returns it),
//     ListRolePolicies on the roles of Options.AccountID. The Deny statements of a role's inline policies are
//     evaluated on every later call of its sessions (see policy.go for the subset modelled): the policy IAM's
//     console writes for "Revoke active sessions" (a Deny of "*" on "*" when aws:TokenIssueTime is before a
//     date) refuses older sessions with AccessDeniedException in KMS's words and leaves newer ones alone.
//     Policies take effect at once; IAM's own propagation delay is not modelled.
//   - STS GetCallerIdentity (never denied, as STS documents), and AssumeRole as a Go call.
//   - ECS UpdateService (desiredCount, forceNewDeployment) and DescribeServices: a forced deployment stops the
//     service's tasks and starts new ones whose task role sessions are issued at that moment; rollouts
//     complete at once. Tasks lists the running tasks and their credentials.
//   - KMS Encrypt, Decrypt, GenerateDataKey, DescribeKey, ScheduleKeyDeletion, CancelKeyDeletion (the key stays
//     Disabled), DisableKey, EnableKey, GetKeyPolicy, PutKeyPolicy (stored, not evaluated).
//   - SNS Publish to topics made with CreateTopic; Messages returns what was published.
//   - DynamoDB GetItem, PutItem, UpdateItem and Scan on tables made with CreateTable (a string partition key),
//     with condition, update and filter expressions evaluated (see dynamodb_expr.go for the subset), so the
//     responder's record store runs on it unchanged.
//   - Secrets Manager GetSecretValue of secrets made with PutSecret.
//
// Not modelled: signature checks, session expiry, implicit denies (an action no policy allows is allowed
// here), key policies (so a session of another account may use the double's keys), grants, resource policies
// and SCPs, user policies, multi-Region keys, key deletion at the end of the waiting period, delivery of
// SNS messages, and DynamoDB's sort keys, indexes, reserved words, capacity and item size limits.
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
)

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	Region    string // default "us-east-1"
	AccountID string // default "111122223333"
	// RoleARN is the ECS task role: its sessions are the app's identity, userIdentity.sessionContext.sessionIssuer.arn
	// in their records (the monitoring's filter keys on it). Default "arn:aws:iam::111122223333:role/kmswatch-task".
	RoleARN      string
	Cluster      string                // ECS cluster of the app's service; default "kmswatch"
	Service      string                // ECS service running with RoleARN; default "kmswatch-app"
	DesiredCount int                   // tasks the service starts with; default 1
	MaxRecords   int                   // ring of kept records; default 10000; older dropped
	OnRecord     func(json.RawMessage) // optional: called (synchronously, under no lock) with each CloudTrail record
	Now          func() time.Time      // default time.Now
}

// Key identifies a KMS key held by the double.
type Key struct{ ID, ARN string }

// Fault makes the next Times calls of Operation fail with ErrorType.
type Fault struct {
	Operation string // a KMS or Secrets Manager operation: "Encrypt", "Decrypt", "ScheduleKeyDeletion", "GetSecretValue"...; "" = any of them
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

	identMu    sync.Mutex
	principals atomic.Pointer[map[string]*principal] // by access key id; copied on write
	roles      map[string]*role                      // by ARN

	ecsMu    sync.Mutex
	clusters map[string]map[string]*ecsService // cluster name -> service name -> service

	snsMu    sync.Mutex
	topics   map[string]bool // by ARN
	messages []Message

	dynamoMu sync.Mutex
	tables   map[string]*dynamoTable // by name

	faultsMu      sync.Mutex
	faults        []Fault
	faultsPending atomic.Int64 // lets the hot path skip faultsMu when no fault is armed

	calls   map[string]*atomic.Int64 // the known operations, fixed at New
	otherMu sync.Mutex
	other   map[string]int64 // anything else that arrived

	trail      trailRing
	tlsDetails [][]byte // per service index
}

const (
	defaultRegion  = "us-east-1"
	defaultAccount = "111122223333"
	defaultRoleARN = "arn:aws:iam::111122223333:role/kmswatch-task"
	defaultCluster = "kmswatch"
	defaultService = "kmswatch-app"
)

// New returns a Server with no keys, secrets or topics, and the task role's ECS service running.
// It panics if Options.RoleARN is not a role ARN.
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
	if opts.Cluster == "" {
		opts.Cluster = defaultCluster
	}
	if opts.Service == "" {
		opts.Service = defaultService
	}
	if opts.DesiredCount <= 0 {
		opts.DesiredCount = 1
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		started:  opts.Now().UTC(),
		keys:     map[string]*kmsKey{},
		secrets:  map[string]*secret{},
		roles:    map[string]*role{},
		clusters: map[string]map[string]*ecsService{},
		topics:   map[string]bool{},
		tables:   map[string]*dynamoTable{},
		calls:    map[string]*atomic.Int64{},
		other:    map[string]int64{},
	}
	s.principals.Store(&map[string]*principal{})
	for _, svc := range services {
		s.tlsDetails = append(s.tlsDetails, tlsDetailsJSON(svc, opts.Region))
		for op := range svc.operations {
			s.calls[op] = new(atomic.Int64)
		}
	}
	s.trail.init(opts.MaxRecords)
	if err := s.startAppService(); err != nil {
		panic(err)
	}
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

// ClientConfig is an SDK config aimed at a double at endpoint, signed with DefaultCredentials (the task
// role's first session): region us-east-1 and the SDK's default (standard) retryer, so retries behave as
// they would against AWS. Its HTTP client keeps more idle connections per host than the SDK's 10, because
// everything goes to one host here and concurrent callers would otherwise open a new connection per request.
func ClientConfig(endpoint string) aws.Config {
	return ClientConfigFor(endpoint, DefaultCredentials, "")
}

// ClientConfigFor is ClientConfig signed with creds; a non-empty sourceIP is sent as X-Forwarded-For, so the
// double records the calls as made from that address.
func ClientConfigFor(endpoint string, creds Credentials, sourceIP string) aws.Config {
	client := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = idleConnsPerHost
	})
	cfg := aws.Config{
		Region:       defaultRegion,
		Credentials:  creds.Provider(),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      func() aws.Retryer { return retry.NewStandard() },
		HTTPClient:   client,
	}
	if sourceIP != "" {
		cfg.HTTPClient = forwardedFor{next: client, ip: sourceIP}
	}
	return cfg
}

const idleConnsPerHost = 128

// forwardedFor adds X-Forwarded-For to every request, as a proxy in front of the double would.
type forwardedFor struct {
	next aws.HTTPClient
	ip   string
}

func (f forwardedFor) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.next.Do(r)
}

// ServeHTTP answers one request, routed by X-Amz-Target (JSON 1.1) or by its signing scope (query protocol).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }
