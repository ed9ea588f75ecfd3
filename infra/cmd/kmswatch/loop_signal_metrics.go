package main

import (
	"fmt"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// The fast signals of issue 11: alarms on AWS/KMS's per-key metric, which does not wait for
// CloudTrail to reach CloudWatch Logs. The double counts no metric, so each is computed from what
// the metric counts, the double's CloudTrail records of successful Decrypts of the app key (the
// rule's own conditions), each seen --metric-delay after its call; and, for the difference, the
// app's decrypt_served lines, each seen the app log's delay after it was written.

// defaultMetricDelay is an assumption: AWS documents no delay for AWS/KMS's per-key metrics (the
// KMS guide calls them "near real-time"). The rehearsal counts each call in the metric this long
// after it.
// https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html
const defaultMetricDelay = 2 * time.Minute

// defaultAppLogDelay is an assumption too: the app's lines go from the task to CloudWatch Logs
// through the awslogs driver, with no CloudTrail hop, and neither that nor a metric filter's
// publication is documented to the minute. app-decrypt-unserved tolerates the app's count being
// up to a minute later than KMS's (rules TestUnservedAssumesTheAppsCountIsAtMostAMinuteBehind).
const defaultAppLogDelay = time.Minute

// metricPath says how late the per-key metric path is, beside the CloudTrail path's delay.
func metricPath(l *loop) string {
	return fmt.Sprintf("path: AWS/KMS SuccessfulRequest, each call counted %s after it (--metric-delay; assumed, AWS documents no delay), "+
		"beside CloudTrail -> CloudWatch Logs %s (--delivery-delay; CloudTrail's documented average)", minutes(l.metricDelay), minutes(l.delay))
}

// keyDecryptRateAlarm is app-key-decrypt-rate: AWS/KMS's count of successful Decrypts of the app
// key per minute. Not in the stack's containOnRules (the app's own traffic counts too): it tells
// a person, as its SNS email does.
func keyDecryptRateAlarm() signal {
	rule, _ := rules.Lookup("app-key-decrypt-rate")
	name := rule.AlarmName(loopPrefix)
	tally := &matchTally{rule: rule}
	return signal{
		id: "key-rate-alarm", name: "alarm " + name, notifyOnly: true,
		delaySource: "the alarm has no responder action: app-key-decrypt-rate is not in the stack's containOnRules",
		path:        metricPath,
		check: func(l *loop, now time.Time) (firing, bool, error) {
			if err := tally.update(l); err != nil {
				return firing{}, false, err
			}
			tr, ok := firstAlarm(rules.EvaluateArrivals(rule.Firing, rules.Delayed(tally.times, l.metricDelay)), now)
			if !ok {
				return firing{}, false, nil
			}
			return alarmFiring(rule, name, tr,
				fmt.Sprintf("%d successful Decrypts of the app key so far, by any caller; the alarm fires on %s", len(tally.times), rule.Firing),
				metricPath(l)), true, nil
		},
	}
}

// unservedAlarm is app-decrypt-unserved: KMS's count minus the app's served count, per minute.
// The rehearsed stack contains on it.
func unservedAlarm() signal {
	rule, _ := rules.Lookup("app-decrypt-unserved")
	name := rule.AlarmName(loopPrefix)
	inputs := rule.InputRules()
	kms, served := &matchTally{rule: inputs[0]}, &matchTally{rule: inputs[1]}
	path := func(l *loop) string {
		return metricPath(l) + fmt.Sprintf("; the app's decrypt_served lines %s after they are written (assumed)", minutes(l.appLogDelay))
	}
	return signal{
		id: "unserved-alarm", name: "alarm " + name,
		// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html
		delaySource: "CloudWatch invokes the alarm's Lambda action on the state change; AWS documents no latency, the rehearsal adds none",
		path:        path,
		check: func(l *loop, now time.Time) (firing, bool, error) {
			for _, t := range []*matchTally{kms, served} {
				if err := t.update(l); err != nil {
					return firing{}, false, err
				}
			}
			ev := rules.EvaluateDifference(rule.Firing, rules.Delayed(kms.times, l.metricDelay), rules.Delayed(served.times, l.appLogDelay))
			tr, ok := firstAlarm(ev, now)
			if !ok {
				return firing{}, false, nil
			}
			return alarmFiring(rule, name, tr,
				fmt.Sprintf("%s: %d successful Decrypts of the app key so far, %d served by the app; the alarm fires on %s",
					rule.Expression(), len(kms.times), len(served.times), rule.Firing),
				path(l)), true, nil
		},
	}
}

// firstAlarm is the evaluation's first move to ALARM at or before now.
func firstAlarm(ev rules.Evaluation, now time.Time) (rules.Transition, bool) {
	for _, tr := range ev.Transitions {
		if tr.To == rules.StateAlarm && !tr.At.After(now) {
			return tr, true
		}
	}
	return rules.Transition{}, false
}
