package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/rules"
)

const keyDeletionAbout = "an IAM user schedules the deletion of the app key and of the audit key; the responder cancels the " +
	"app key's (KMS leaves it Disabled) and reports the audit key's; a person enables the app key."

// The steps the key-deletion scenario must show.
var keyDeletionSteps = []string{"app-serves", "deletion-scheduled", "app-refused", "event-delivered", "responder-cancels",
	"audit-key-reported", "app-disabled", "status", "release-refused", "key-enabled", "app-healthy"}

const (
	adminAddress = "203.0.113.99"
	deletionDays = 7
	// eventBridgeSource says where the EventBridge step's timing comes from.
	eventBridgeSource = "EventBridge receives CloudTrail's management events \"on a best effort basis\" " +
		"(https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudtrail.html); AWS documents no latency, the rehearsal adds none"
)

type keyDeletion struct {
	*loop
	keyBefore    string
	kms          *awskms.Client // the on-call person's
	cancellation responder.Record
	dec          string // the customer's decrypt request
	announced    int    // messages on the topic before the audit key's event
	user         awsdouble.User
	admin        *awskms.Client // the IAM user's
}

func rehearseKeyDeletion(start time.Time, d loopDelays) (*loop, error) {
	l, err := newLoop("key-deletion", start.Add(-2*time.Hour), d)
	if err != nil {
		return nil, err
	}
	k := &keyDeletion{loop: l, kms: awskms.NewFromConfig(l.config(l.oncall.Credentials, personAddress)),
		dec: fmt.Sprintf(`{"Name":"Stephen","Key":%q}`, l.appKey.ARN)}
	l.clock.Set(start)
	k.keyBefore = l.double.KeyState(l.appKey.ID)
	enc, _ := l.request(http.MethodPost, "/encrypt", `{"Name":"Stephen","Text":"I love Pizza"}`)
	code, body := l.request(http.MethodGet, "/decrypt", k.dec)
	l.record(loopStep{ID: "app-serves", Title: "the app serves with the app key", Want: "POST /encrypt and GET /decrypt answer 200",
		OK: enc == http.StatusOK && code == http.StatusOK, Got: fmt.Sprintf("POST /encrypt -> %d, GET /decrypt -> %d %s", enc, code, body)})
	l.at(start.Add(time.Minute), func() { k.scheduleDeletion(l.appKey.ARN) })
	l.at(start.Add(time.Minute+10*time.Second), func() { k.scheduleDeletion(l.auditKey.ARN) })
	l.run()
	return l, nil
}

// scheduleDeletion is the IAM user's ScheduleKeyDeletion of one key; its event reaches the responder
// through the rule's EventBridge target once the current moment's other calls are done.
func (k *keyDeletion) scheduleDeletion(key string) {
	if k.admin == nil {
		k.user = k.double.AddUser("dev-admin")
		k.admin = awskms.NewFromConfig(k.config(k.user.Credentials, adminAddress))
	}
	out, err := k.admin.ScheduleKeyDeletion(context.Background(), &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(key), PendingWindowInDays: aws.Int32(deletionDays)})
	state := k.double.KeyState(key)
	recs := k.records("ScheduleKeyDeletion", func(r trailRecord) bool {
		return len(r.Resources) > 0 && r.Resources[0].ARN == key
	})
	got := "ScheduleKeyDeletion: " + outcome(err)
	if err == nil {
		got += fmt.Sprintf(", deletion on %s; key %s", out.DeletionDate.UTC().Format(time.DateOnly), state)
	}
	ok := err == nil && state == "PendingDeletion" && len(recs) == 1 && recs[0].UserIdentity.Type == "IAMUser" && recs[0].UserIdentity.ARN == k.user.ARN
	step := loopStep{ID: "deletion-scheduled", Title: fmt.Sprintf("IAM user dev-admin schedules the deletion of the %s (%d days) from %s", k.keyName(key), deletionDays, adminAddress),
		Want: "the key PendingDeletion; CloudTrail names the IAM user", OK: ok, Got: got}
	if len(recs) > 0 {
		step.Details = []string{fmt.Sprintf("CloudTrail: userIdentity.type %s, arn %s, from %s", recs[0].UserIdentity.Type, recs[0].UserIdentity.ARN, recs[0].SourceIP)}
	}
	k.record(step)
	if key == k.appKey.ARN {
		// A customer's request in the same moment, before the event reaches the responder.
		k.customer("app-refused", "KMSInvalidStateException", "while the key is pending deletion")
	}
	for _, r := range recs {
		r := r
		k.at(r.EventTime, func() { k.deliver(r) })
	}
}

func (k *keyDeletion) keyName(arn string) string {
	if arn == k.auditKey.ARN {
		return "audit key"
	}
	return "app key"
}

// deliver is the kms-key-disable-or-delete rule's EventBridge event for one record: the person's message,
// and the responder's invocation.
func (k *keyDeletion) deliver(r trailRecord) {
	rule, _ := rules.Lookup("kms-key-disable-or-delete")
	_, deploysPattern := rule.EventPattern(k.params)
	event, err := rules.EventBridgeEvent(r.raw)
	text := ""
	if err == nil {
		text, err = rule.Notification().Render(event)
	}
	key := r.Resources[0].ARN
	step := loopStep{ID: "event-delivered", Title: fmt.Sprintf("the %s rule's event for the %s reaches the alert topic and the responder", rule.ID, k.keyName(key)),
		Delay: "+0s after the call: " + eventBridgeSource, Want: "the rule matches (it deploys an EventBridge pattern) and its message names the caller",
		OK: err == nil && deploysPattern && k.matched(rule.ID, r) && strings.Contains(text, "dev-admin")}
	step.Got = "the message a person receives:"
	step.Details = []string{indent(text, "  ")}
	if err != nil {
		step.Got = err.Error()
	}
	k.record(step)
	if err != nil {
		return
	}
	k.announced = len(k.double.Messages(k.topic))
	rec, err := k.responder.Handle(context.Background(), event)
	if key == k.appKey.ARN {
		k.cancelled(rec, err)
	} else {
		k.reported(rec, err)
	}
}

// matched reports whether the rules' replay of the trail matched r with rule id.
func (k *keyDeletion) matched(id string, r trailRecord) bool {
	res, err := k.replay(id)
	if err != nil {
		return false
	}
	var want struct {
		EventID string `json:"eventID"`
	}
	if json.Unmarshal(r.raw, &want) != nil {
		return false
	}
	for _, m := range res.Matches {
		if m.EventID == want.EventID {
			return true
		}
	}
	return false
}

func (k *keyDeletion) cancelled(rec responder.Record, err error) {
	step := loopStep{ID: "responder-cancels", Title: "the responder cancels the app key's deletion",
		Want: "CancelKeyDeletion applied; the key Disabled (as KMS leaves a cancelled key); an announcement that says so and how to enable it"}
	if err != nil {
		step.Got = err.Error()
		k.record(step)
		return
	}
	desc, derr := k.kms.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(k.appKey.ARN)})
	msgs := k.double.Messages(k.topic)
	var m string
	if len(msgs) > k.announced {
		last := msgs[len(msgs)-1]
		m = "Subject: " + last.Subject + "\n" + last.Message
	}
	state := ""
	if derr == nil {
		state = string(desc.KeyMetadata.KeyState)
	}
	step.OK = rec.Status == responder.StatusKeyRestored && state == "Disabled" && strings.Contains(m, "KEY DELETION CANCELLED") &&
		strings.Contains(m, "Disabled") && strings.Contains(m, "aws kms enable-key --key-id "+k.appKey.ARN)
	step.Got = fmt.Sprintf("record %s, %s; DescribeKey: %s", rec.ID, rec.Status, state)
	step.Details = append(recordDetails(rec), "announced on "+loopPrefix+"-alerts:", indent(m, "  "))
	k.record(step)
	k.cancellation = rec
	k.at(k.clock.Now().Add(30*time.Second), func() { k.customer("app-disabled", "DisabledException", "while the key is Disabled") })
	k.at(k.clock.Now().Add(12*time.Minute), k.status)
	k.at(k.clock.Now().Add(13*time.Minute), k.releaseRefused)
	k.at(k.clock.Now().Add(14*time.Minute), k.enable)
}

func (k *keyDeletion) reported(rec responder.Record, err error) {
	cancels := k.records("CancelKeyDeletion", func(r trailRecord) bool {
		return len(r.Resources) > 0 && r.Resources[0].ARN == k.auditKey.ARN
	})
	state := k.double.KeyState(k.auditKey.ID)
	k.record(loopStep{ID: "audit-key-reported", Title: "the responder reports the audit key's deletion and leaves it to a person",
		Want: "decision report, recorded, not announced by the responder; no call on the audit key; the key still PendingDeletion",
		OK: err == nil && rec.Plan.Decision == responder.DecideReport && rec.Status == responder.StatusReported && len(cancels) == 0 &&
			state == "PendingDeletion" && len(k.double.Messages(k.topic)) == k.announced,
		Got:     fmt.Sprintf("record %s, %s; audit key %s; %d CancelKeyDeletion calls on it", rec.ID, rec.Status, state, len(cancels)),
		Details: []string{"why: " + rec.Plan.Why}})
}

// customer is a decrypt through the app that KMS must refuse with errorCode.
func (k *keyDeletion) customer(id, errorCode, while string) {
	code, body := k.request(http.MethodGet, "/decrypt", k.dec)
	at := k.clock.Now()
	recs := k.records("Decrypt", func(r trailRecord) bool { return !r.EventTime.Before(at) })
	got := fmt.Sprintf("GET /decrypt -> %d %s", code, body)
	if len(recs) > 0 {
		got += "; CloudTrail: " + recs[0].ErrorCode + ": " + recs[0].ErrorMessage
	}
	k.record(loopStep{ID: id, Title: "the app cannot decrypt " + while, Want: "403, and " + errorCode + " in the trail",
		OK: code == http.StatusForbidden && len(recs) == 1 && recs[0].ErrorCode == errorCode, Got: got})
}

func (k *keyDeletion) status() {
	var out, errOut bytes.Buffer
	code := status(context.Background(), k.person, loopTable, false, false, &out, &errOut)
	k.record(loopStep{ID: "status", Title: "kmswatch status --table " + loopTable + " (the on-call person)",
		Want: "exit 1: the cancelled deletion is held, the key Disabled until a person decides",
		OK:   code == exitFindings && strings.Contains(out.String(), "key Disabled until a person decides"),
		Got:  fmt.Sprintf("exit %d", code), Details: []string{strings.TrimSpace(out.String() + errOut.String())}})
}

// releaseRefused: release undoes IAM containments only; a key is a person's to enable.
func (k *keyDeletion) releaseRefused() {
	var out, errOut bytes.Buffer
	code := release(context.Background(), k.person, loopTable, k.cancellation.ID, false, false, false, &out, &errOut)
	k.record(loopStep{ID: "release-refused", Title: "kmswatch release --table " + loopTable + " " + k.cancellation.ID,
		Want: "exit 1: release does not enable or re-schedule a key, and names the commands",
		OK:   code == exitFindings && strings.Contains(errOut.String(), "aws kms enable-key"),
		Got:  fmt.Sprintf("exit %d", code), Details: []string{strings.TrimSpace(errOut.String())}})
}

// enable is the person following the announcement: aws kms enable-key, then the app again.
func (k *keyDeletion) enable() {
	prior := k.double.KeyState(k.appKey.ID) // Disabled, as KMS leaves a cancelled key
	_, err := k.kms.EnableKey(context.Background(), &awskms.EnableKeyInput{KeyId: aws.String(k.appKey.ARN)})
	state := k.double.KeyState(k.appKey.ID)
	k.record(loopStep{ID: "key-enabled", Title: "the on-call person runs aws kms enable-key --key-id " + k.appKey.ARN,
		Want: "the key goes from Disabled to the state it had before the deletion was scheduled", OK: err == nil && prior == "Disabled" && state == k.keyBefore,
		Got: fmt.Sprintf("EnableKey: %s; key %s -> %s (before the deletion was scheduled: %s); audit key %s, a person's to decide",
			outcome(err), prior, state, k.keyBefore, k.double.KeyState(k.auditKey.ID))})
	k.clock.Set(k.clock.Now().Add(30 * time.Second))
	code, body := k.request(http.MethodGet, "/decrypt", k.dec)
	k.record(loopStep{ID: "app-healthy", Title: "the app decrypts again", Want: "GET /decrypt answers 200 with the stored text",
		OK: code == http.StatusOK && strings.Contains(body, "I love Pizza"), Got: fmt.Sprintf("GET /decrypt -> %d %s", code, body)})
}
