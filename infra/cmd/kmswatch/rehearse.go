package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	apphttp "github.com/kmswatch/kmswatch/app/http"
	"github.com/kmswatch/kmswatch/app/inmem"
	appkms "github.com/kmswatch/kmswatch/app/kms"
	"github.com/kmswatch/kmswatch/infra/rules"
)

const rehearseAbout = `Runs a scenario offline, in one process and in seconds, on a simulated clock, so the outcome
does not depend on when the command runs. --scenario picks it:

  lab           the lab's scenario: the app's real HTTP handler (app/http over app/inmem and
                app/kms with the real AWS SDK client), the KMS double (which writes a CloudTrail
                record per call) and the rules. It encrypts a text, decrypts it with the right key,
                then decrypts it N times with another key of the double, and shows what CloudWatch
                would do: the alarm transitions and the notification SNS would email. Events are
                one second apart.
  exfiltration  the whole loop: the app serves; a copy of its task role session decrypts the
                database from another address; AWS/KMS's per-key alarms (app-key-decrypt-rate,
                app-decrypt-unserved) fire, then the trail's app-decrypt-volume; the responder
                (its executor, with the SDK clients its Lambda builds, on the AWS double), which
                the stack lets app-decrypt-volume and app-decrypt-unserved invoke, revokes the
                role's older sessions and forces a new deployment; the copy is refused, the new
                task serves; kmswatch status and release run as the on-call person's IAM user;
                the offline join names every Decrypt the app did not serve. Each path's delay is
                printed beside the CloudTrail path's.
  key-deletion  an IAM user schedules the deletion of the app key and of the audit key; the
                kms-key-disable-or-delete event reaches the responder, which cancels the app key's
                deletion (KMS leaves it Disabled) and leaves the audit key to a person; the person
                enables the app key as the announcement says.

Every log line (the trail's records and the app's own) reaches CloudWatch Logs --delivery-delay
after it was written. Its data point keeps the event's time, the worst case (CloudWatch Logs does
not document which timestamp a metric filter uses), and the alarm, evaluated every minute, sees it
from the first evaluation after it arrived. The default, 5m, is AWS's figure for CloudTrail ("an
average of about 5 minutes ... not guaranteed"); the lab warns of up to 15m. A log rule's alarm
fires on a burst that arrives up to its tolerance late (printed beside it); a later burst it may
miss, and the output says which alarms did. AWS/KMS's per-key metric counts a call --metric-delay
after it: AWS documents no delay, and the default, 2m, is an assumption; the app's own lines feed
app-decrypt-unserved 1m after they are written (assumed too).

Exit status: 0 when the scenario ran as described (lab: encrypt and the right-key decrypt succeed,
every wrong-key decrypt is refused; the others: every step printed ok), 1 otherwise, 2 for bad
usage.`

// defaultDeliveryDelay is CloudTrail's documented average delivery of its logs (to the bucket and
// the CloudWatch Logs group), "within an average of about 5 minutes ... not guaranteed".
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-working-with-log-files.html
const defaultDeliveryDelay = 5 * time.Minute

// maxDeliveryDelay bounds the flag: beyond a day no alarm of the rule set (at most 24h of
// periods) could see the data anyway.
const maxDeliveryDelay = 24 * time.Hour

// rehearsalRole is the task role the KMS double names as the caller.
const rehearsalRole = "arn:aws:iam::111122223333:role/kmswatch-rehearsal-task"

var rehearsalRegion = rules.NotificationContext{
	Region: "us-east-1", RegionName: "US East (N. Virginia)", Account: "111122223333",
	TopicARN:    "arn:aws:sns:us-east-1:111122223333:kmswatch-dev-alerts",
	StackPrefix: "kmswatch-dev", // as `make up` names the dev stack's alarms
}

// loopScenarios are the scenarios that run the responder's loop, with the steps each must show.
var loopScenarios = map[string]struct {
	run      func(start time.Time, d loopDelays) (*loop, error)
	about    string
	required []string
}{
	"exfiltration": {rehearseExfiltration, exfiltrationAbout, exfiltrationSteps},
	"key-deletion": {rehearseKeyDeletion, keyDeletionAbout, keyDeletionSteps},
}

func runRehearse(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	scenario := fs.String("scenario", "lab", "lab, exfiltration or key-deletion")
	wrongKeys := fs.Int("wrong-keys", 5, "lab: decrypts with a wrong key (the default trips app-kms-errors and app-decrypt-denied)")
	delay := fs.Duration("delivery-delay", defaultDeliveryDelay, "how late each log line reaches CloudWatch Logs (0 to 24h)")
	metricDelay := fs.Duration("metric-delay", defaultMetricDelay, "exfiltration: how late AWS/KMS's per-key metric counts a call (0 to 24h; AWS documents none)")
	asJSON := fs.Bool("json", false, "JSON lines: one per step (lab: and per alarm transition and notification)")
	fs.Usage = usageFunc(fs, "kmswatch rehearse [--scenario lab|exfiltration|key-deletion] [--wrong-keys N] [--delivery-delay D] [--metric-delay D] [--json]", rehearseAbout)
	positional, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return usageError(stderr, "rehearse", "unexpected argument %q", positional[0])
	}
	if *delay < 0 || *delay > maxDeliveryDelay {
		return usageError(stderr, "rehearse", "--delivery-delay %s: must be between 0 and 24h", *delay)
	}
	if *metricDelay < 0 || *metricDelay > maxDeliveryDelay {
		return usageError(stderr, "rehearse", "--metric-delay %s: must be between 0 and 24h", *metricDelay)
	}
	start := time.Now().UTC().Truncate(time.Minute)
	if *scenario != "lab" {
		sc, known := loopScenarios[*scenario]
		switch {
		case !known:
			return usageError(stderr, "rehearse", "--scenario %q: want lab, exfiltration or key-deletion", *scenario)
		case flagSet(fs, "wrong-keys"):
			return usageError(stderr, "rehearse", "--wrong-keys applies to --scenario lab only")
		}
		l, err := sc.run(start, loopDelays{trail: *delay, metric: *metricDelay, appLog: defaultAppLogDelay})
		if err != nil {
			fmt.Fprintf(stderr, "kmswatch rehearse: %v\n", err)
			return exitFindings
		}
		if *asJSON {
			l.writeJSON(stdout, sc.required)
		} else {
			l.writeText(stdout, sc.about, sc.required)
		}
		if !l.passed(sc.required) {
			fmt.Fprintf(stderr, "kmswatch rehearse: the %s scenario did not run as described (see the steps)\n", *scenario)
			return exitFindings
		}
		return exitOK
	}
	if *wrongKeys < 0 || *wrongKeys > 10000 {
		return usageError(stderr, "rehearse", "--wrong-keys %d: must be between 0 and 10000", *wrongKeys)
	}
	reh, err := rehearse(*wrongKeys, start, *delay)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch rehearse: %v\n", err)
		return exitFindings
	}
	if *asJSON {
		reh.writeJSON(stdout)
	} else {
		reh.writeText(stdout)
	}
	if reh.failed {
		fmt.Fprintln(stderr, "kmswatch rehearse: the scenario did not run as the lab describes (see the steps)")
		return exitFindings
	}
	return exitOK
}

// flagSet reports whether the command line set the flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// rehearsalClock stamps every event one second after the previous one.
type rehearsalClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *rehearsalClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// clockHandler stamps the app's log lines with the rehearsal's clock.
type clockHandler struct {
	slog.Handler
	clock interface{ Now() time.Time }
}

func (h clockHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = h.clock.Now()
	return h.Handler.Handle(ctx, r)
}

func (h clockHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return clockHandler{h.Handler.WithAttrs(attrs), h.clock}
}

func (h clockHandler) WithGroup(name string) slog.Handler {
	return clockHandler{h.Handler.WithGroup(name), h.clock}
}

type step struct {
	Request string `json:"request"`
	Want    string `json:"want"` // "2xx": served; "4xx": refused, whichever 4xx the app picks
	Status  int    `json:"status"`
	Body    string `json:"body"`
}

func (st step) ok() bool { return st.Want[0] == byte('0'+st.Status/100) }

type rehearsal struct {
	delay      time.Duration // how late every log line reaches CloudWatch Logs
	steps      []step
	failed     bool
	trail      []json.RawMessage // the double's CloudTrail records
	appLog     []byte            // the app's JSON log lines
	result     *rules.ReplayResult
	emails     []email
	immediates []string // notifications of rules that fire at once
}

type email struct {
	rule          string
	subject, body string
}

// rehearse runs the scenario with the rehearsal clock starting at start, every log line reaching
// CloudWatch Logs delay after it was written.
func rehearse(wrongKeys int, start time.Time, delay time.Duration) (*rehearsal, error) {
	clock := &rehearsalClock{now: start}
	double := awsdouble.New(awsdouble.Options{RoleARN: rehearsalRole, Now: clock.Now})
	appKey := double.CreateKey("alias/kmswatch-app")
	otherKey := double.CreateKey("alias/kmswatch-rehearsal-other") // a real key, just not this text's
	kmsEndpoint := httptest.NewServer(double)
	defer kmsEndpoint.Close()

	var appLog bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(clockHandler{slog.NewJSONHandler(&lockedWriter{w: &appLog, mu: &logMu}, nil), clock})
	crypto := appkms.New(awskms.NewFromConfig(awsdouble.ClientConfig(kmsEndpoint.URL)), appKey.ARN, 0)
	server := apphttp.NewServer(apphttp.Config{}, inmem.NewStore(), crypto, logger)

	reh := &rehearsal{delay: delay}
	do := func(method, path, body string, want string) (map[string]string, error) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "203.0.113.7:50000"
		rec := httptest.NewRecorder()
		server.Handler().ServeHTTP(rec, req)
		st := step{Request: method + " " + path + " " + body, Want: want, Status: rec.Code, Body: strings.TrimSpace(rec.Body.String())}
		reh.steps = append(reh.steps, st)
		if !st.ok() {
			reh.failed = true
		}
		var out map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			return nil, fmt.Errorf("%s: answer is not a JSON object: %q", st.Request, st.Body)
		}
		return out, nil
	}
	enc, err := do(http.MethodPost, "/encrypt", `{"Name":"Stephen","Text":"I love Pizza"}`, "2xx")
	if err != nil {
		return nil, err
	}
	if _, err := do(http.MethodGet, "/decrypt", fmt.Sprintf(`{"Name":"Stephen","Key":%q}`, enc["Key"]), "2xx"); err != nil {
		return nil, err
	}
	for range wrongKeys {
		if _, err := do(http.MethodGet, "/decrypt", fmt.Sprintf(`{"Name":"Stephen","Key":%q}`, otherKey.ARN), "4xx"); err != nil {
			return nil, err
		}
	}

	reh.trail = double.Records()
	reh.appLog = appLog.Bytes()
	var logs bytes.Buffer
	for _, rec := range reh.trail {
		logs.Write(rec)
		logs.WriteByte('\n')
	}
	logs.Write(reh.appLog)
	reh.result = rules.ReplayData("rehearsal", logs.Bytes(), rules.ReplayOptions{
		Params: rules.Params{TaskRoleARN: rehearsalRole, KeyARNs: []string{appKey.ARN, otherKey.ARN}},
	})
	if len(reh.result.Problems) > 0 {
		return nil, fmt.Errorf("replaying the rehearsal's logs: %w", reh.result.Problems[0])
	}
	reh.evaluateDelivered()
	reh.notifications()
	return reh, nil
}

// evaluateDelivered re-runs each alarm with the delivery delay: replay takes every line as
// delivered when written, the rehearsal as delivered reh.delay later.
func (reh *rehearsal) evaluateDelivered() {
	res := reh.result
	times := make([][]time.Time, len(res.Rules))
	for _, m := range res.Matches {
		times[m.Rule] = append(times[m.Rule], m.EventTime)
	}
	for i, r := range res.Rules {
		res.Evaluations[i] = rules.EvaluateArrivals(r.Firing, rules.Delayed(times[i], reh.delay))
	}
}

// notifications renders what SNS would deliver: an alarm email per state change, and the
// EventBridge message per event of a rule that fires at once.
func (reh *rehearsal) notifications() {
	res := reh.result
	for i, r := range res.Rules {
		for _, tr := range res.Evaluations[i].Transitions {
			subject, body := r.AlarmEmail(tr, rehearsalRegion)
			reh.emails = append(reh.emails, email{rule: r.ID, subject: subject, body: body})
		}
	}
	for _, rec := range reh.trail {
		for _, r := range res.Rules {
			if _, ok := r.EventPattern(rules.Params{}); !ok {
				continue
			}
			parsed, err := rules.ParseRecord(rec)
			if err != nil || !r.Matches(parsed, rules.Params{TaskRoleARN: rehearsalRole}) {
				continue
			}
			event, err := rules.EventBridgeEvent(rec)
			if err != nil {
				continue
			}
			if text, err := r.Notification().Render(event); err == nil {
				reh.immediates = append(reh.immediates, text)
			}
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
