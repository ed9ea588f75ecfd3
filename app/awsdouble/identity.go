package awsdouble

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Credentials are what an SDK client signs with. SessionToken is empty for an IAM user's long-term key.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Provider is a static SDK credentials provider for c.
func (c Credentials) Provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// DefaultCredentials are those of the task role's first session, the one the ECS service's first task runs
// with; ClientConfig signs with them. The values are the examples AWS's documentation uses.
var DefaultCredentials = Credentials{
	AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
	SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	SessionToken:    "AQoDYXdzEJr//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI",
}

// Session is a role session: credentials issued by STS for a role at a time, as CloudTrail shows it.
type Session struct {
	Credentials
	RoleARN string    // the role the session is of, in any account
	Name    string    // the role session name (an ECS task's id for task role sessions)
	ARN     string    // arn:aws:sts::<account>:assumed-role/<role name>/<session name>
	Issued  time.Time // aws:TokenIssueTime, and CloudTrail's sessionContext.attributes.creationDate
}

// User is an IAM user with one long-term access key.
type User struct {
	Credentials
	Name, ARN string
}

// role is an IAM role the double knows: the task role, and any role a session was started for.
type role struct {
	name, arn, id, account string

	mu       sync.Mutex
	policies map[string]string // inline policies by name, documents as put

	// denies holds the Deny statements of every inline policy, compiled; nil while there are none,
	// so the request path pays one atomic load for an unrestricted role.
	denies atomic.Pointer[[]statement]
}

type principalKind uint8

const (
	assumedRole principalKind = iota
	iamUser
)

// principal is who one access key id authenticates as, with its userIdentity JSON built once.
type principal struct {
	kind                principalKind
	accessKeyID         string
	sessionToken        string // "" for long-term keys
	arn, userID         string // the caller's ARN and unique id (principalId; GetCallerIdentity's UserId)
	account             string
	role                *role     // the session's role; nil for users
	issued              time.Time // zero for users: aws:TokenIssueTime is absent from their requests
	userIdentity        []byte    // `"userIdentity":{...}`
	temporaryCredential bool
}

// registerPrincipal makes p known; the map is copied on write so the request path reads it without a lock.
func (s *Server) registerPrincipal(p *principal) {
	s.identMu.Lock()
	defer s.identMu.Unlock()
	old := *s.principals.Load()
	next := make(map[string]*principal, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[p.accessKeyID] = p
	s.principals.Store(&next)
}

func (s *Server) lookupPrincipal(accessKeyID string) *principal {
	return (*s.principals.Load())[accessKeyID]
}

// roleFor returns the role with roleARN, creating it on first use. Roles of other accounts are created too:
// they stand for the outside sessions a test plays, which the double's IAM cannot manage.
func (s *Server) roleFor(roleARN string) (*role, error) {
	if err := CheckRoleARN(roleARN); err != nil {
		return nil, fmt.Errorf("awsdouble: %w", err)
	}
	account, name, _ := parseRoleARN(roleARN)
	s.identMu.Lock()
	defer s.identMu.Unlock()
	if r, ok := s.roles[roleARN]; ok {
		return r, nil
	}
	r := &role{name: name, arn: roleARN, id: uniqueID("AROA", roleARN), account: account, policies: map[string]string{}}
	s.roles[roleARN] = r
	return r, nil
}

// roleNamed finds a role of the double's own account by name, as IAM's role APIs address them.
func (s *Server) roleNamed(name string) *role {
	s.identMu.Lock()
	defer s.identMu.Unlock()
	for _, r := range s.roles {
		if r.account == s.opts.AccountID && r.name == name {
			return r
		}
	}
	return nil
}

// CheckRoleARN reports whether arn is a role ARN the double accepts as Options.RoleARN or for AssumeRole.
func CheckRoleARN(arn string) error {
	if _, _, ok := parseRoleARN(arn); !ok {
		return fmt.Errorf("%q is not a role ARN (arn:aws:iam::<12-digit account>:role/<name>)", arn)
	}
	return nil
}

// parseRoleARN splits arn:aws:iam::<account>:role[/path]/<name>.
func parseRoleARN(arn string) (account, name string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return "", "", false
	}
	account, resource, ok := strings.Cut(rest, ":")
	if !ok || len(account) != 12 || !strings.HasPrefix(resource, "role/") {
		return "", "", false
	}
	name = resource[strings.LastIndexByte(resource, '/')+1:]
	return account, name, name != ""
}

// AssumeRole starts a session of roleARN named sessionName, issued now, and returns its credentials,
// as STS AssumeRole would. roleARN may be of another account, for a caller from outside. The session is
// authenticated from then on; CloudTrail records of its calls name it.
func (s *Server) AssumeRole(roleARN, sessionName string) (Session, error) {
	r, err := s.roleFor(roleARN)
	if err != nil {
		return Session{}, err
	}
	if sessionName == "" || len(sessionName) > 64 {
		return Session{}, fmt.Errorf("awsdouble: role session name %q must be 1 to 64 characters", sessionName)
	}
	return s.startSession(r, sessionName, s.opts.Now().UTC(), newCredentials("ASIA", true)), nil
}

func (s *Server) startSession(r *role, name string, issued time.Time, creds Credentials) Session {
	sess := Session{
		Credentials: creds,
		RoleARN:     r.arn,
		Name:        name,
		ARN:         "arn:aws:sts::" + r.account + ":assumed-role/" + r.name + "/" + name,
		Issued:      issued,
	}
	p := &principal{
		kind: assumedRole, accessKeyID: creds.AccessKeyID, sessionToken: creds.SessionToken,
		arn: sess.ARN, userID: r.id + ":" + name, account: r.account, role: r, issued: issued,
		temporaryCredential: true,
	}
	p.userIdentity = appendAssumedRoleIdentity(nil, p)
	s.registerPrincipal(p)
	return sess
}

// AddUser makes an IAM user of the double's account with one long-term access key (AKIA...).
// The double models no user policies: the user may call everything the double serves.
func (s *Server) AddUser(name string) User {
	creds := newCredentials("AKIA", false)
	arn := "arn:aws:iam::" + s.opts.AccountID + ":user/" + name
	p := &principal{
		kind: iamUser, accessKeyID: creds.AccessKeyID, arn: arn,
		userID: uniqueID("AIDA", arn), account: s.opts.AccountID,
	}
	p.userIdentity = appendUserIdentity(nil, p, name)
	s.registerPrincipal(p)
	return User{Credentials: creds, Name: name, ARN: arn}
}

// appendAssumedRoleIdentity writes userIdentity as CloudTrail does for a role session:
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
// (the example with sourceIdentity shows sessionContext with webIdFederationData).
func appendAssumedRoleIdentity(b []byte, p *principal) []byte {
	r := p.role
	b = append(b, `"userIdentity":{"type":"AssumedRole","principalId":`...)
	b = appendJSONString(b, p.userID)
	b = append(b, `,"arn":`...)
	b = appendJSONString(b, p.arn)
	b = append(b, `,"accountId":`...)
	b = appendJSONString(b, p.account)
	b = append(b, `,"accessKeyId":`...)
	b = appendJSONString(b, p.accessKeyID)
	b = append(b, `,"sessionContext":{"sessionIssuer":{"type":"Role","principalId":`...)
	b = appendJSONString(b, r.id)
	b = append(b, `,"arn":`...)
	b = appendJSONString(b, r.arn)
	b = append(b, `,"accountId":`...)
	b = appendJSONString(b, r.account)
	b = append(b, `,"userName":`...)
	b = appendJSONString(b, r.name)
	b = append(b, `},"webIdFederationData":{},"attributes":{"creationDate":"`...)
	b = p.issued.UTC().AppendFormat(b, trailTimeLayout)
	return append(b, `","mfaAuthenticated":"false"}}}`...)
}

// appendUserIdentity writes userIdentity as CloudTrail does for an IAM user's access key (same page).
func appendUserIdentity(b []byte, p *principal, userName string) []byte {
	b = append(b, `"userIdentity":{"type":"IAMUser","principalId":`...)
	b = appendJSONString(b, p.userID)
	b = append(b, `,"arn":`...)
	b = appendJSONString(b, p.arn)
	b = append(b, `,"accountId":`...)
	b = appendJSONString(b, p.account)
	b = append(b, `,"accessKeyId":`...)
	b = appendJSONString(b, p.accessKeyID)
	b = append(b, `,"userName":`...)
	b = appendJSONString(b, userName)
	return append(b, '}')
}

const base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// uniqueID makes a stable IAM unique id (prefix + 17 characters, as AROA.../AIDA... ids are) from name.
func uniqueID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	id := []byte(prefix)
	for _, c := range sum[:17] {
		id = append(id, base32Upper[c%32])
	}
	return string(id)
}

// newCredentials makes a random access key id (prefix + 16 characters: ASIA for STS, AKIA for IAM users),
// secret and, for sessions, a session token.
func newCredentials(prefix string, session bool) Credentials {
	var raw [16 + 30 + 96]byte
	fillRandom(raw[:])
	id := []byte(prefix)
	for _, c := range raw[:16] {
		id = append(id, base32Upper[c%32])
	}
	c := Credentials{AccessKeyID: string(id), SecretAccessKey: base64.StdEncoding.EncodeToString(raw[16:46])}
	if session {
		c.SessionToken = base64.StdEncoding.EncodeToString(raw[46:])
	}
	return c
}
