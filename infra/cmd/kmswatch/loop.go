package main

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	apphttp "github.com/kmswatch/kmswatch/app/http"
	"github.com/kmswatch/kmswatch/app/inmem"
	appkms "github.com/kmswatch/kmswatch/app/kms"
	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/dynamodb"
	"github.com/kmswatch/kmswatch/infra/responder/executor"
	"github.com/kmswatch/kmswatch/infra/rules"
)

// The world the loop scenarios (exfiltration, key-deletion) run in: one AWS double for the account, the
// app's real HTTP handler as the ECS service's current task, the responder's executor with the SDK clients
// its Lambda builds, and a person with an IAM user. Every call is stamped by a simulated clock that the
// scenario moves, so the outcome does not depend on when the command runs.

// loopContainOnRules is the rehearsed stack's containOnRules, the stack's default: the trail's
// volume alarm and the fast alarm on decrypts the app did not serve.
var loopContainOnRules = []string{"app-decrypt-volume", "app-decrypt-unserved"}

// The dev stack's names, as `make up` gives them (infra/naming.go).
const (
	loopPrefix     = "kmswatch-dev"
	loopAccount    = "111122223333"
	loopRegion     = "us-east-1"
	loopTaskRole   = "kmswatch-dev-task"
	loopCluster    = loopPrefix
	loopService    = "app"
	loopTable      = loopPrefix + "-responder"
	responderRole  = "arn:aws:iam::" + loopAccount + ":role/" + loopPrefix + "-responder"
	loopTaskPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],` +
		`"Resource":"arn:aws:kms:us-east-1:111122223333:key/*"}]}`
)

// Addresses of the callers (RFC 5737 documentation ranges): the tasks reach KMS through the NAT gateway,
// so CloudTrail shows its address for them.
const (
	natAddress    = "192.0.2.44"
	personAddress = "203.0.113.50"
	clientAddress = "203.0.113.7:50000"
)

// simClock is the scenario's time: Set moves it, nothing else does.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *simClock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}

// loopDelays are how late each path of the loop sees a call: CloudTrail's to CloudWatch Logs
// (--delivery-delay), AWS/KMS's per-key metric (--metric-delay), and the app's own log lines.
type loopDelays struct {
	trail, metric, appLog time.Duration
}

type loop struct {
	scenario    string
	clock       *simClock
	delay       time.Duration // CloudTrail to CloudWatch Logs
	metricDelay time.Duration // a call to its count in AWS/KMS's per-key metric
	appLogDelay time.Duration // the app's log line to CloudWatch Logs (no CloudTrail hop)
	header      []string      // what the scenario says about its clock, under the title
	double      *awsdouble.Server
	appKey      awsdouble.Key
	auditKey    awsdouble.Key
	topic       string
	params      rules.Params

	database *inmem.Store // the app's records (RDS), shared by every task
	appLog   bytes.Buffer // every task's JSON log lines
	logMu    sync.Mutex
	task     awsdouble.Task // the task the load balancer sends requests to
	app      http.Handler

	responder *executor.Executor // as its Lambda runs it: the responder role's session
	person    *executor.Executor // kmswatch release and status, as the on-call person's IAM user
	oncall    awsdouble.User

	// The task role's inline policies and the keys' states just before the responder first changed
	// anything, which release must restore.
	policiesBefore map[string]string
	keysBefore     [2]string

	queue eventQueue
	steps []loopStep
}

// newLoop starts the account at taskStarted: the keys, the alert topic, the record table and the ECS
// service with its first task; the scenario moves the clock on from there.
func newLoop(scenario string, taskStarted time.Time, d loopDelays) (*loop, error) {
	clock := &simClock{now: taskStarted}
	dbl := awsdouble.New(awsdouble.Options{RoleARN: "arn:aws:iam::" + loopAccount + ":role/" + loopTaskRole,
		Cluster: loopCluster, Service: loopService, MaxRecords: 100000, Now: clock.Now})
	l := &loop{scenario: scenario, clock: clock, delay: d.trail, metricDelay: d.metric, appLogDelay: d.appLog, double: dbl,
		appKey: dbl.CreateKey("alias/" + loopPrefix + "-app"), auditKey: dbl.CreateKey("alias/" + loopPrefix + "-audit"),
		topic: dbl.CreateTopic(loopPrefix + "-alerts"), database: inmem.NewStore()}
	l.params = rules.Params{TaskRoleARN: "arn:aws:iam::" + loopAccount + ":role/" + loopTaskRole, KeyARNs: []string{l.appKey.ARN, l.auditKey.ARN},
		AppKeyARN: l.appKey.ARN}
	dbl.CreateTable(loopTable, dynamodb.KeyAttribute)
	ctx := context.Background()

	// What the stack deployed: the task role's own permissions, so that release is seen to keep them.
	deployer, err := dbl.AssumeRole("arn:aws:iam::"+loopAccount+":role/"+loopPrefix+"-deployer", "pulumi")
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewFromConfig(l.config(deployer.Credentials, personAddress)).PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(loopTaskRole), PolicyName: aws.String("task"), PolicyDocument: aws.String(loopTaskPolicy)}); err != nil {
		return nil, fmt.Errorf("deploying the task role's policy: %w", err)
	}

	session, err := dbl.AssumeRole(responderRole, loopPrefix+"-responder") // Lambda names the session after the function
	if err != nil {
		return nil, err
	}
	cfg := l.config(session.Credentials, "")
	var containOn []string // the stack's containOnRules: the trail's volume alarm and the fast unserved one
	for _, id := range loopContainOnRules {
		rule, _ := rules.Lookup(id)
		containOn = append(containOn, rule.AlarmName(loopPrefix))
	}
	l.responder = &executor.Executor{
		Stack: responder.Stack{Mode: responder.ModeContain, TaskRoleName: loopTaskRole, TaskRoleARN: l.params.TaskRoleARN,
			Cluster: loopCluster, Service: loopService, AppKeyARN: l.appKey.ARN, AuditKeyARN: l.auditKey.ARN,
			ContainOnAlarms: containOn, ContainmentInterval: time.Hour},
		IAM: iam.NewFromConfig(cfg), ECS: ecs.NewFromConfig(cfg), KMS: awskms.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg),
		Store:    dynamodb.Store{Client: awsdynamodb.NewFromConfig(cfg), Table: loopTable},
		TopicARN: l.topic, Table: loopTable, Now: clock.Now, Log: slog.New(slog.DiscardHandler),
	}
	if err := l.responder.Stack.Validate(); err != nil {
		return nil, err
	}
	l.oncall = dbl.AddUser("oncall")
	pcfg := l.config(l.oncall.Credentials, personAddress)
	l.person = &executor.Executor{IAM: iam.NewFromConfig(pcfg), KMS: awskms.NewFromConfig(pcfg),
		Store: dynamodb.Store{Client: awsdynamodb.NewFromConfig(pcfg), Table: loopTable}, Table: loopTable, Now: clock.Now}
	l.routeToCurrentTask()
	return l, nil
}

// doubleEndpoint is where the SDK clients believe the double is; inProcess delivers their requests.
const doubleEndpoint = "http://awsdouble.rehearsal.invalid"

// config is an SDK configuration signed with creds, calling from ip ("" for loopback). Its requests
// reach the double in-process rather than through a socket: the SDK still signs, serializes and retries
// each one, but the scenario's thousands of calls do not wait on loopback round trips.
func (l *loop) config(creds awsdouble.Credentials, ip string) aws.Config {
	cfg := awsdouble.ClientConfigFor(doubleEndpoint, creds, ip)
	cfg.HTTPClient = inProcess{handler: l.double, sourceIP: ip}
	return cfg
}

// inProcess hands a request to the double's handler as its server would, with the caller's address as
// X-Forwarded-For (as awsdouble.ClientConfigFor sends it).
type inProcess struct {
	handler  http.Handler
	sourceIP string
}

func (c inProcess) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	if c.sourceIP != "" {
		r.Header.Set("X-Forwarded-For", c.sourceIP)
	}
	r.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// routeToCurrentTask points the load balancer at the service's first running task, building the app
// anew when ECS replaced it: a new task is a new process with its own task role session.
func (l *loop) routeToCurrentTask() {
	tasks := l.double.Tasks(loopCluster, loopService)
	if len(tasks) == 0 || tasks[0].ID == l.task.ID {
		return
	}
	l.task = tasks[0]
	logger := slog.New(clockHandler{slog.NewJSONHandler(&lockedWriter{w: &l.appLog, mu: &l.logMu}, nil), l.clock}).
		With("task", l.task.ID)
	client := awskms.NewFromConfig(l.config(l.task.Session.Credentials, natAddress))
	l.app = apphttp.NewServer(apphttp.Config{}, l.database, appkms.New(client, l.appKey.ARN, 0), logger).Handler()
}

// request sends one request to the app through the load balancer and returns its status and body.
func (l *loop) request(method, path, body string) (int, string) {
	l.routeToCurrentTask()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = clientAddress
	rec := httptest.NewRecorder()
	l.app.ServeHTTP(rec, req)
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

// trailAndLogs is every CloudTrail record the double wrote and every app log line, one per line, as
// the lab scenario hands them to the rules.
func (l *loop) trailAndLogs() []byte {
	var b bytes.Buffer
	for _, rec := range l.double.Records() {
		b.Write(rec)
		b.WriteByte('\n')
	}
	l.logMu.Lock()
	b.Write(l.appLog.Bytes())
	l.logMu.Unlock()
	return b.Bytes()
}

// replay runs the rules over what has been logged so far, each line delivered l.delay after it was
// written.
func (l *loop) replay(ruleIDs ...string) (*rules.ReplayResult, error) {
	var rs []rules.Rule
	for _, id := range ruleIDs {
		r, ok := rules.Lookup(id)
		if !ok {
			return nil, fmt.Errorf("no rule %s", id)
		}
		rs = append(rs, r)
	}
	res := rules.ReplayData(l.scenario, l.trailAndLogs(), rules.ReplayOptions{Rules: rs, Params: l.params})
	if len(res.Problems) > 0 {
		return nil, fmt.Errorf("replaying the rehearsal's logs: %w", res.Problems[0])
	}
	times := make([][]time.Time, len(res.Rules))
	for _, m := range res.Matches {
		times[m.Rule] = append(times[m.Rule], m.EventTime)
	}
	for i, r := range res.Rules {
		res.Evaluations[i] = rules.EvaluateArrivals(r.Firing, rules.Delayed(times[i], l.delay))
	}
	return res, nil
}

// trailRecord is the part of a CloudTrail record the scenarios check.
type trailRecord struct {
	EventTime    time.Time `json:"eventTime"`
	EventName    string    `json:"eventName"`
	RequestID    string    `json:"requestID"`
	ErrorCode    string    `json:"errorCode"`
	ErrorMessage string    `json:"errorMessage"`
	SourceIP     string    `json:"sourceIPAddress"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
	Resources []struct {
		ARN string `json:"ARN"`
	} `json:"resources"`
	raw json.RawMessage
}

// records returns the trail's records of eventName that keep says to.
func (l *loop) records(eventName string, keep func(trailRecord) bool) []trailRecord {
	var out []trailRecord
	name := []byte(`"eventName":"` + eventName + `"`)
	for _, raw := range l.double.Records() {
		if !bytes.Contains(raw, name) {
			continue // most records are the attacker's and the seed's: skip decoding them
		}
		var r trailRecord
		if json.Unmarshal(raw, &r) == nil && r.EventName == eventName && keep(r) {
			r.raw = raw
			out = append(out, r)
		}
	}
	return out
}

// event is one thing that happens at a simulated time; seq keeps events of the same time in the order
// they were scheduled.
type event struct {
	at  time.Time
	seq int
	run func()
}

type eventQueue struct {
	events []event
	seq    int
}

func (q *eventQueue) Len() int { return len(q.events) }
func (q *eventQueue) Less(i, j int) bool {
	a, b := q.events[i], q.events[j]
	return a.at.Before(b.at) || (a.at.Equal(b.at) && a.seq < b.seq)
}
func (q *eventQueue) Swap(i, j int) { q.events[i], q.events[j] = q.events[j], q.events[i] }
func (q *eventQueue) Push(x any)    { q.events = append(q.events, x.(event)) }
func (q *eventQueue) Pop() any {
	e := q.events[len(q.events)-1]
	q.events = q.events[:len(q.events)-1]
	return e
}

// at schedules fn at t.
func (l *loop) at(t time.Time, fn func()) {
	l.queue.seq++
	heap.Push(&l.queue, event{at: t, seq: l.queue.seq, run: fn})
}

// run plays the scheduled events in time order, the clock set to each, until none is left.
func (l *loop) run() {
	for l.queue.Len() > 0 {
		e := heap.Pop(&l.queue).(event)
		l.clock.Set(e.at)
		e.run()
	}
}
