package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/infra/responder"
)

const exfiltrationAbout = "a copy of the task role's credentials decrypts the database from outside the app; " +
	"AWS/KMS's per-key alarms fire minutes before the trail's; the responder contains on decrypts the app did not serve; " +
	"the copy is refused, the app keeps serving; release lifts it; replay names every unserved decrypt."

// The steps the exfiltration scenario must show, in order.
// The trail's volume alarm is no required step: with the AWS/KMS alarms the copy is refused
// before it has made the 1000 Decrypts in 5 minutes that the volume alarm counts.
var exfiltrationSteps = []string{"app-serves", "credentials-stolen", "key-rate-alarm", "unserved-alarm", "responder-contains",
	"stolen-refused", "app-healthy", "status", "released", "after-release", "users-served",
	"unmatched-decrypts", "detection-paths"}

const (
	attackerAddress = "198.51.100.23"
	databaseRecords = 3500                   // what the attacker dumps and decrypts, one by one
	attackInterval  = 200 * time.Millisecond // five decrypts a second
	attackAfter     = 2 * time.Minute        // from the scenario's start
	userInterval    = time.Minute            // a customer's decrypt through the app
	signalDeadline  = time.Hour              // after the start, the scenario stops waiting for a signal
	releaseAfter    = time.Hour              // the person investigates, then releases
)

type exfiltration struct {
	*loop
	signals  []signal
	fired    []bool
	firedAt  []time.Time
	deadline time.Time

	names     []string       // the database's records, as the attacker dumped them
	copied    awsdouble.Task // the task whose session was copied
	stolen    *awskms.Client
	next      int // the attacker's next record
	attackEnd time.Time

	contained     *responder.Record
	served, asked int // customers' decrypts answered 200, and sent
	healthyShown  bool
	trafficEnd    time.Time
}

// rehearseExfiltration runs the scenario from start (the attack starts attackAfter later), with the
// signals the stack has: the AWS/KMS per-key alarms and the trail's volume alarm.
func rehearseExfiltration(start time.Time, d loopDelays) (*loop, error) {
	return runExfiltration(start, d, []signal{keyDecryptRateAlarm(), unservedAlarm(), decryptVolumeAlarm()})
}

func runExfiltration(start time.Time, d loopDelays, signals []signal) (*loop, error) {
	l, err := newLoop("exfiltration", start.Add(-2*time.Hour), d)
	if err != nil {
		return nil, err
	}
	l.header = append(l.header, fmt.Sprintf("AWS/KMS's per-key metric counts a call %s after it (--metric-delay; assumed: AWS documents no delay); "+
		"the app's own log lines reach CloudWatch Logs %s after they are written (assumed).", minutes(d.metric), minutes(d.appLog)))
	x := &exfiltration{loop: l, signals: signals, deadline: start.Add(signalDeadline),
		trafficEnd: start.Add(signalDeadline)}
	x.fired, x.firedAt = make([]bool, len(x.signals)), make([]time.Time, len(x.signals))
	if err := x.seed(start.Add(-45 * time.Minute)); err != nil {
		return nil, err
	}
	l.clock.Set(start)
	x.appServes()
	l.at(start.Add(userInterval), x.customer)
	l.at(start.Add(attackAfter), x.attack)
	l.at(start.Add(time.Minute), x.evaluateSignals)
	l.run()
	x.usersServed()
	x.unmatchedDecrypts()
	x.detectionPaths()
	return l, nil
}

// seed stores the database's records through the app, one every half second from `from`.
func (x *exfiltration) seed(from time.Time) error {
	for i := range databaseRecords {
		x.clock.Set(from.Add(time.Duration(i) * 500 * time.Millisecond))
		name := fmt.Sprintf("customer-%05d", i)
		if code, body := x.request(http.MethodPost, "/encrypt", fmt.Sprintf(`{"Name":%q,"Text":"card ending %04d"}`, name, i)); code != http.StatusOK {
			return fmt.Errorf("storing %s through the app: %d %s", name, code, body)
		}
		x.names = append(x.names, name)
	}
	return nil
}

func (x *exfiltration) appServes() {
	stored := x.database.Len()
	enc, _ := x.request(http.MethodPost, "/encrypt", `{"Name":"Stephen","Text":"I love Pizza"}`)
	dec, decBody := x.request(http.MethodGet, "/decrypt", fmt.Sprintf(`{"Name":"Stephen","Key":%q}`, x.appKey.ARN))
	x.copied = x.task
	x.record(loopStep{ID: "app-serves",
		Title: fmt.Sprintf("the app serves, as task %s with its task role session (issued %s)", short(x.task.ID), x.task.Session.Issued.Format(time.TimeOnly)),
		Want:  "POST /encrypt and GET /decrypt answer 200", OK: enc == http.StatusOK && dec == http.StatusOK,
		Got:     fmt.Sprintf("POST /encrypt -> %d, GET /decrypt -> %d %s", enc, dec, decBody),
		Details: []string{fmt.Sprintf("the database also holds %d records the app stored before", stored)}})
}

// customer is one customer's decrypt through the app, every userInterval; the first after a containment
// shows which task served it.
func (x *exfiltration) customer() {
	code, body := x.request(http.MethodGet, "/decrypt", fmt.Sprintf(`{"Name":"Stephen","Key":%q}`, x.appKey.ARN))
	x.asked++
	if code == http.StatusOK {
		x.served++
	}
	if x.contained != nil && !x.healthyShown {
		x.healthyShown = true
		x.appHealthy(code, body)
	}
	if next := x.clock.Now().Add(userInterval); next.Before(x.trafficEnd) {
		x.at(next, x.customer)
	}
}

func (x *exfiltration) appHealthy(code int, body string) {
	fresh := x.task
	served := x.records("Decrypt", func(r trailRecord) bool {
		return r.UserIdentity.AccessKeyID == fresh.Session.AccessKeyID && !r.EventTime.Before(x.clock.Now())
	})
	revoked, _ := responder.RevokedBefore(x.contained.Plan.Actions[0].Document)
	ok := code == http.StatusOK && fresh.ID != x.copied.ID && !fresh.Session.Issued.Before(revoked) && len(served) == 1 && served[0].ErrorCode == ""
	x.record(loopStep{ID: "app-healthy",
		Title: fmt.Sprintf("the app keeps serving, as task %s started by the forced deployment", short(fresh.ID)),
		Want:  "a new task, whose session is issued at or after the revocation's date, answers GET /decrypt 200", OK: ok,
		Got: fmt.Sprintf("GET /decrypt -> %d %s; session %s issued %s, revocation denies sessions issued before %s",
			code, body, short(fresh.Session.AccessKeyID), fresh.Session.Issued.Format(time.TimeOnly), revoked.Format(time.TimeOnly)),
		Details: []string{fmt.Sprintf("task %s (the copied session's) was stopped by the deployment. The double starts the new task at once; "+
			"ECS needs the time to start it and pass its health checks, during which the old task is refused too", short(x.copied.ID))}})
}

func (x *exfiltration) usersServed() {
	x.record(loopStep{ID: "users-served", Title: "customers were served throughout",
		Want: "every customer decrypt through the app answered 200, before and after the containment", OK: x.asked > 0 && x.served == x.asked,
		Got: fmt.Sprintf("%d of %d decrypts answered 200, one a minute", x.served, x.asked)})
}

// attack decrypts the dump's next record with the copied session, from the attacker's address, until
// KMS refuses it or the dump is done.
func (x *exfiltration) attack() {
	ctx := context.Background()
	if x.stolen == nil {
		x.stolen = awskms.NewFromConfig(x.config(x.copied.Session.Credentials, attackerAddress))
	}
	name := x.names[x.next]
	secret, err := x.database.FindSecret(ctx, name)
	if err == nil {
		_, err = x.stolen.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: secret.Ciphertext, EncryptionContext: map[string]string{"Name": name}})
	}
	if x.next == 0 {
		x.record(loopStep{ID: "credentials-stolen",
			Title: fmt.Sprintf("a copy of task %s's session keys decrypts the dumped database from %s, %d records a second",
				short(x.copied.ID), attackerAddress, time.Second/attackInterval),
			Want: "KMS serves the copy: the same session as the app's", OK: err == nil,
			Got: fmt.Sprintf("Decrypt of %s with %s from %s: %s", name, short(x.copied.Session.AccessKeyID), attackerAddress, outcome(err))})
	}
	if err != nil {
		x.attackEnded(err)
		return
	}
	x.next++
	if x.next == len(x.names) {
		x.attackEnd = x.clock.Now()
		x.record(loopStep{ID: "attack-ended", Title: "the copy decrypted the whole database",
			Want: "the copy is refused before it is done", Got: fmt.Sprintf("%d of %d records decrypted, never refused", x.next, len(x.names))})
		return
	}
	x.at(x.clock.Now().Add(attackInterval), x.attack)
}

// attackEnded checks the refusal: AccessDeniedException, and the trail's record of it from the
// attacker's address, with the copied session's key.
func (x *exfiltration) attackEnded(err error) {
	x.attackEnd = x.clock.Now()
	refusals := x.records("Decrypt", func(r trailRecord) bool {
		return r.ErrorCode != "" && r.UserIdentity.AccessKeyID == x.copied.Session.AccessKeyID
	})
	var got string
	ok := apiErrorCode(err) == "AccessDeniedException" && len(refusals) == 1 && x.contained != nil
	if len(refusals) > 0 {
		r := refusals[0]
		ok = ok && r.ErrorCode == "AccessDeniedException" && r.SourceIP == attackerAddress
		got = fmt.Sprintf("CloudTrail: %s %s from %s: %s", r.EventName, r.ErrorCode, r.SourceIP, r.ErrorMessage)
	} else {
		got = "no failed Decrypt of the copied session in the trail; the call answered " + outcome(err)
	}
	x.record(loopStep{ID: "stolen-refused", Title: "the copy is refused", OK: ok,
		Want: "AccessDeniedException, recorded in the trail with the attacker's address", Got: got,
		Details: []string{fmt.Sprintf("before that, the copy decrypted %d of %d records (%s to %s)", x.next, len(x.names),
			x.clock.Now().Add(-time.Duration(x.next)*attackInterval).Format(time.TimeOnly), x.clock.Now().Format(time.TimeOnly))}})
}

// evaluateSignals checks every signal that has not fired, each simulated minute, and invokes the responder
// each one's delay after it fires.
func (x *exfiltration) evaluateSignals() {
	now := x.clock.Now()
	for i, sig := range x.signals {
		if x.fired[i] {
			continue
		}
		f, ok, err := sig.check(x.loop, now)
		if err != nil {
			x.record(loopStep{ID: sig.id, Title: sig.name, Want: "the signal is evaluated", Got: err.Error()})
			x.fired[i] = true
			continue
		}
		if !ok {
			continue
		}
		x.fired[i], x.firedAt[i] = true, f.at
		// A slower path that fires after a faster one contained confirms it; one that fires after
		// the copy was done is too late.
		x.record(loopStep{At: f.at, ID: sig.id, Title: sig.name + " fires",
			Want: "the signal fires while the copy decrypts, or after a faster signal contained it", OK: x.attackEnd.IsZero() || x.contained != nil,
			Got: f.got, Details: f.details})
		if sig.notifyOnly {
			continue
		}
		sig, f := sig, f
		x.at(f.at.Add(sig.delay), func() { x.invoke(sig, f) })
	}
	if next := now.Add(time.Minute); next.Before(x.deadline) && pending(x.fired) {
		x.at(next, x.evaluateSignals)
	}
}

func pending(fired []bool) bool {
	for _, f := range fired {
		if !f {
			return true
		}
	}
	return false
}

// invoke hands a signal's payload to the responder, as its Lambda receives it.
func (x *exfiltration) invoke(sig signal, f firing) {
	if x.contained == nil {
		x.policiesBefore = x.double.RolePolicies(loopTaskRole)
		x.keysBefore = [2]string{x.double.KeyState(x.appKey.ID), x.double.KeyState(x.auditKey.ID)}
	}
	rec, err := x.responder.Handle(context.Background(), f.payload)
	delay := fmt.Sprintf("+%s after the %s fired: %s", minutes(sig.delay), sig.id, sig.delaySource)
	if x.contained != nil {
		x.record(loopStep{ID: "responder", Title: "the responder receives " + sig.name + " after the containment", Delay: delay,
			Want: "rate-limited: recorded and announced, nothing changed", OK: err == nil && rec.Status == responder.StatusRateLimited,
			Got: fmt.Sprintf("record %s: %s", rec.ID, rec.Status)})
		return
	}
	step := loopStep{ID: "responder-contains", Title: "the responder contains the task role", Delay: delay,
		Want: "a record (what, why, trigger, prior state) in the table; AWSRevokeOlderSessions written; a forced deployment; an announcement"}
	if err != nil {
		step.Got = err.Error()
		x.record(step)
		return
	}
	stored, serr := x.person.Store.Get(context.Background(), rec.ID)
	msgs := x.double.Messages(x.topic)
	step.OK = serr == nil && stored.Status == responder.StatusContained && len(stored.Plan.Actions) == 2 && stored.Announced &&
		stored.Plan.Actions[0].Undo.Kind == responder.UndoDeletePolicy && len(msgs) > 0 &&
		strings.Contains(msgs[len(msgs)-1].Message, responder.ReleaseCommand(loopTable, rec.ID))
	step.Got = fmt.Sprintf("record %s, %s, in table %s", rec.ID, stored.Status, loopTable)
	step.Details = recordDetails(stored)
	if len(msgs) > 0 {
		m := msgs[len(msgs)-1]
		step.Details = append(step.Details, "announced on "+loopPrefix+"-alerts:", "  Subject: "+m.Subject, indent(m.Message, "  "))
	}
	x.record(step)
	x.contained = &stored
	released := x.clock.Now().Add(releaseAfter)
	x.trafficEnd = released
	x.at(released.Add(-time.Minute), x.status)
	x.at(released, x.release)
}

// recordDetails is the record as the table keeps it: what, why, which trigger, the prior state.
func recordDetails(r responder.Record) []string {
	out := []string{"trigger: " + r.Plan.Trigger.Source(), "why: " + r.Plan.Why}
	for i, a := range r.Plan.Actions {
		applied := "not applied"
		if i < len(r.Results) && r.Results[i].Applied {
			applied = "applied " + r.Results[i].AppliedAt.Format(time.TimeOnly)
		}
		out = append(out, fmt.Sprintf("what: %s (%s); undo %s: %s", a.Kind, applied, a.Undo.Kind, a.Undo.Note))
	}
	return out
}

// status is `kmswatch status` as the person runs it, on the double.
func (x *exfiltration) status() {
	var out, errOut bytes.Buffer
	code := status(context.Background(), x.person, loopTable, false, false, &out, &errOut)
	x.record(loopStep{ID: "status", Title: "kmswatch status --table " + loopTable + " (the on-call person)",
		Want: "exit 1: the containment is in force", OK: code == exitFindings && strings.Contains(out.String(), "in force: sessions of "+loopTaskRole),
		Got: fmt.Sprintf("exit %d", code), Details: []string{strings.TrimSpace(out.String() + errOut.String())}})
}

// release is `kmswatch release` as the person runs it, then the comparison with the state before.
func (x *exfiltration) release() {
	ctx := context.Background()
	var out, errOut bytes.Buffer
	code := release(ctx, x.person, loopTable, x.contained.ID, false, false, false, &out, &errOut)
	after := x.double.RolePolicies(loopTaskRole)
	keys := [2]string{x.double.KeyState(x.appKey.ID), x.double.KeyState(x.auditKey.ID)}
	var sout, serr bytes.Buffer
	scode := status(ctx, x.person, loopTable, false, false, &sout, &serr)
	x.record(loopStep{ID: "released", Title: "kmswatch release --table " + loopTable + " " + x.contained.ID,
		Delay: fmt.Sprintf("+%s after the containment: the person investigated", minutes(releaseAfter)),
		Want:  "exit 0; the role's inline policies and both keys' states exactly as before the containment; status shows nothing",
		OK:    code == exitOK && maps.Equal(after, x.policiesBefore) && keys == x.keysBefore && scode == exitOK,
		Got: fmt.Sprintf("exit %d; inline policies %s (before: %s); keys %s/%s (before: %s/%s)", code, policyNames(after),
			policyNames(x.policiesBefore), keys[0], keys[1], x.keysBefore[0], x.keysBefore[1]),
		Details: []string{strings.TrimSpace(out.String() + errOut.String()), "then kmswatch status: exit " + fmt.Sprint(scode) + ": " + strings.TrimSpace(sout.String())}})
	x.at(x.clock.Now().Add(time.Second), x.afterRelease)
}

// afterRelease shows what release means for the copy: no older session is denied any more.
func (x *exfiltration) afterRelease() {
	name := x.names[0] // the copy tries its first record again
	secret, err := x.database.FindSecret(context.Background(), name)
	if err == nil {
		_, err = x.stolen.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: secret.Ciphertext,
			EncryptionContext: map[string]string{"Name": name}})
	}
	x.record(loopStep{ID: "after-release", Title: "after release, the copy is no longer denied",
		Want: "the copy decrypts again: release lifts the deny for every session issued before its date", OK: err == nil,
		Got: "Decrypt with the copied session from " + attackerAddress + ": " + outcome(err),
		Details: []string{"release waited until the role's maximum session duration (1 h) had passed since the revocation: the longest " +
			"IAM documents for a session assumed with AssumeRole, no documented bound for the credentials ECS hands a task (the setting " +
			"does not limit sessions assumed by AWS services), so on AWS the copy may work again too. The double models no expiry, so " +
			"here it is served. The deny harmed no fresh credential (task " + short(x.task.ID) + "'s session was issued after its date): " +
			"leaving the containment in place was the safe choice; releasing, once the copied session's task was stopped, accepted this risk"}})
}

func policyNames(p map[string]string) string {
	return "[" + strings.Join(slices.Sorted(maps.Keys(p)), " ") + "]"
}

// apiErrorCode is the AWS error code err carries, or "".
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// outcome words a call's result: "served", or its error code and message.
func outcome(err error) string {
	var ae smithy.APIError
	switch {
	case err == nil:
		return "served"
	case errors.As(err, &ae):
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// short is an id's first 8 characters, enough to tell tasks and keys apart in the output.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
