package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// signal is one way the stack notices that the task role's credentials are used outside the app, and
// invokes the responder. The exfiltration scenario checks each signal at every alarm evaluation (each
// simulated minute) and invokes the responder delay after the signal fired; a signal that fires after a
// containment reaches the responder too, which rate-limits it. Issue 11's fast signals (the AWS/KMS per-key
// metric alarm, "decrypts not served by the app") are further signals with their own check and path
// (loop_signal_metrics.go).
type signal struct {
	id          string               // the step's id, e.g. "alarm"
	name        string               // what fired, for people
	delay       time.Duration        // from firing to the responder's invocation
	delaySource string               // where that delay comes from
	notifyOnly  bool                 // the alarm only tells a person: no responder action
	path        func(l *loop) string // how late this path sees a call, for people
	// check reports whether the signal has fired by now, judging only from what was logged so far.
	check func(l *loop, now time.Time) (firing, bool, error)
}

// firing is a signal's firing: when, what the responder receives, and what a person is told.
type firing struct {
	at      time.Time
	payload []byte
	got     string
	details []string
}

// alarmFiring is what an alarm's move to ALARM hands the loop: the payload CloudWatch sends the
// responder, the transition as one line, and the details, the SNS email's subject last.
func alarmFiring(rule rules.Rule, name string, tr rules.Transition, details ...string) firing {
	subject, _ := rule.AlarmEmail(tr, rehearsalRegion)
	return firing{at: tr.At, payload: alarmPayload(name, tr, rule.Firing),
		got:     fmt.Sprintf("%s %s -> %s: %s", name, tr.From, tr.To, tr.Reason(rule.Firing)),
		details: append(details, "email from SNS: "+subject)}
}

// decryptVolumeAlarm is the app-decrypt-volume alarm: the trail's successful Decrypts by the task role,
// counted by the rules' alarm evaluation on the data CloudWatch Logs has received (l.delay late), as the
// lab scenario counts them.
func decryptVolumeAlarm() signal {
	rule, _ := rules.Lookup("app-decrypt-volume")
	name := rule.AlarmName(loopPrefix)
	tally := &matchTally{rule: rule}
	return signal{
		id: "alarm", name: "alarm " + name,
		// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html
		delaySource: "CloudWatch invokes the alarm's Lambda action on the state change; AWS documents no latency, the rehearsal adds none",
		path: func(l *loop) string {
			return fmt.Sprintf("path: CloudTrail -> CloudWatch Logs -> metric filter, each call seen %s after it (--delivery-delay; CloudTrail's documented average)", minutes(l.delay))
		},
		check: func(l *loop, now time.Time) (firing, bool, error) {
			if err := tally.update(l); err != nil {
				return firing{}, false, err
			}
			tr, ok := firstAlarm(rules.EvaluateArrivals(rule.Firing, rules.Delayed(tally.times, l.delay)), now)
			if !ok {
				return firing{}, false, nil
			}
			delivered := 0
			for _, at := range tally.times {
				if !at.Add(l.delay).After(now) {
					delivered++
				}
			}
			details := []string{fmt.Sprintf("%d successful Decrypts by the task role so far, %d of them in CloudWatch Logs; the alarm fires on %s",
				len(tally.times), delivered, rule.Firing)}
			if newest, ok := newestBreaching(tr); ok {
				details = append(details, fmt.Sprintf("data of %s-%s, delivered %s late", newest.Format("15:04"),
					newest.Add(rule.Firing.Period).Format("15:04"), minutes(l.delay)))
			}
			return alarmFiring(rule, name, tr, details...), true, nil
		},
	}
}

// matchTally keeps one rule's matched event times as the logs grow, replaying only what was written
// since the last look: a signal checked every simulated minute then costs what the new lines cost. The
// rules match record by record, so replaying the logs in pieces matches what replaying them whole does.
type matchTally struct {
	rule   rules.Rule
	trail  int // trail records replayed so far
	appLog int // bytes of the app's log replayed so far
	times  []time.Time
}

func (m *matchTally) update(l *loop) error {
	recs := l.double.Records()
	if len(recs) < m.trail {
		return fmt.Errorf("the double's trail dropped records (it keeps %d)", len(recs))
	}
	var b bytes.Buffer
	for _, rec := range recs[m.trail:] {
		b.Write(rec)
		b.WriteByte('\n')
	}
	m.trail = len(recs)
	l.logMu.Lock()
	b.Write(l.appLog.Bytes()[m.appLog:])
	m.appLog = l.appLog.Len()
	l.logMu.Unlock()
	res := rules.ReplayData(l.scenario, b.Bytes(), rules.ReplayOptions{Rules: []rules.Rule{m.rule}, Params: l.params})
	if len(res.Problems) > 0 {
		return fmt.Errorf("replaying the rehearsal's logs: %w", res.Problems[0])
	}
	for _, match := range res.Matches {
		m.times = append(m.times, match.EventTime)
	}
	return nil
}

// alarmPayload is the event CloudWatch sends an alarm's Lambda action on a state change (the shape of
// alarms-and-actions-Lambda.html, as package responder parses it).
func alarmPayload(name string, tr rules.Transition, f rules.Firing) []byte {
	const layout = "2006-01-02T15:04:05.000-0700"
	ts := tr.At.UTC().Format(layout)
	payload := map[string]any{
		"source": "aws.cloudwatch", "alarmArn": "arn:aws:cloudwatch:" + loopRegion + ":" + loopAccount + ":alarm:" + name,
		"accountId": loopAccount, "time": ts, "region": loopRegion,
		"alarmData": map[string]any{
			"alarmName":     name,
			"state":         map[string]string{"value": string(tr.To), "reason": tr.Reason(f), "timestamp": ts},
			"previousState": map[string]string{"value": string(tr.From), "reason": "", "timestamp": ts},
		},
	}
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err) // strings and maps of strings: cannot fail
	}
	return b
}
