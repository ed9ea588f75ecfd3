package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

func (reh *rehearsal) decryptFailedLines() int {
	return strings.Count(string(reh.appLog), `"event":"decrypt_failed"`)
}

func (reh *rehearsal) writeText(out io.Writer) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintln(w, "Rehearsal: the app's HTTP handler, the KMS double and the rules in one process.")
	fmt.Fprintln(w, "\nSteps:")
	for i := 0; i < len(reh.steps); {
		st, n := reh.steps[i], 1
		for i+n < len(reh.steps) && reh.steps[i+n] == st {
			n++
		}
		mark := "as expected"
		if !st.ok() {
			mark = "UNEXPECTED, want " + st.Want
		}
		times := ""
		if n > 1 {
			times = fmt.Sprintf(" (x%d)", n)
		}
		fmt.Fprintf(w, "  %s%s\n    -> %d %s [%s]\n", st.Request, times, st.Status, st.Body, mark)
		i += n
	}
	fmt.Fprintf(w, "\nLogs: the KMS double wrote %d CloudTrail records; the app wrote %d decrypt_failed lines.\n",
		len(reh.trail), reh.decryptFailedLines())
	fmt.Fprintf(w, "Delivery: each line reaches CloudWatch Logs %s after it was written (--delivery-delay); its data point keeps the event's time, the worst case.\n",
		minutes(reh.delay))

	res := reh.result
	fmt.Fprintln(w, "\nRules:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RULE\tFIRES\tTOLERATES\tMATCHED\tALARM TRANSITIONS")
	counts := res.Counts()
	var missed []string
	for i, r := range res.Rules {
		ev := res.Evaluations[i]
		var trs []string
		for _, tr := range ev.Transitions {
			text := fmt.Sprintf("%s -> %s at %s", tr.From, tr.To, tr.At.Format(time.TimeOnly))
			if newest, ok := newestBreaching(tr); ok {
				span := newest.Format("15:04")
				if r.Firing.Period > time.Minute {
					span += "-" + newest.Add(r.Firing.Period).Format("15:04")
				}
				text += fmt.Sprintf(" (data of %s, delivered %s late)", span, minutes(reh.delay))
			}
			trs = append(trs, text)
		}
		tolerates := "-"
		if r.Firing.Immediate {
			if counts[i] > 0 {
				trs = append(trs, fmt.Sprintf("notified %d times at once", counts[i]))
			}
		} else {
			tolerates = minutes(r.Firing.LateTolerance()) + " late"
			if len(ev.Breaching()) > 0 && len(ev.Transitions) == 0 {
				missed = append(missed, fmt.Sprintf("%s: its events reached the threshold, but arrived %s late, after the alarm had stopped looking back (it tolerates %s).",
					r.ID, minutes(reh.delay), minutes(r.Firing.LateTolerance())))
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", r.ID, r.Firing, tolerates, counts[i], dash(strings.Join(trs, ", ")))
	}
	tw.Flush()
	for _, m := range missed {
		fmt.Fprintf(w, "  Missed: %s\n", m)
	}

	// The ALARM emails in full; the OK ones that follow differ only in state and reason.
	for _, e := range reh.emails {
		if strings.HasPrefix(e.subject, "ALARM") {
			fmt.Fprintf(w, "\nEmail from SNS (%s):\nSubject: %s\n\n%s", e.rule, e.subject, e.body)
		}
	}
	for _, e := range reh.emails {
		if !strings.HasPrefix(e.subject, "ALARM") {
			fmt.Fprintf(w, "\nThen, from SNS: Subject: %s\n", e.subject)
		}
	}
	for _, text := range reh.immediates {
		fmt.Fprintf(w, "\nEventBridge message via SNS:\n%s\n", text)
	}
}

func (reh *rehearsal) writeJSON(out io.Writer) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// These values always marshal, and bufio.Writer keeps the first write error; stdout
	// errors are not worth a failure here.
	for _, st := range reh.steps {
		_ = enc.Encode(struct {
			Type string `json:"type"`
			step
		}{"step", st})
	}
	res := reh.result
	for i, r := range res.Rules {
		for _, tr := range res.Evaluations[i].Transitions {
			_ = enc.Encode(map[string]any{
				"type": "transition", "rule": r.ID, "at": tr.At.UTC().Format(time.RFC3339),
				"from": tr.From, "to": tr.To, "reason": tr.Reason(r.Firing), "deliveryDelay": reh.delay.String(),
			})
		}
	}
	for _, e := range reh.emails {
		_ = enc.Encode(map[string]string{"type": "notification", "rule": e.rule, "subject": e.subject, "body": e.body})
	}
	for _, text := range reh.immediates {
		_ = enc.Encode(map[string]string{"type": "event-notification", "text": text})
	}
}

// minutes prints a duration of whole minutes as "5m", others as Go does.
func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// newestBreaching is the start of the newest breaching period a transition to ALARM saw.
func newestBreaching(tr rules.Transition) (time.Time, bool) {
	for _, d := range tr.Datapoints {
		if d.Breaching && tr.To == rules.StateAlarm {
			return d.Start, true
		}
	}
	return time.Time{}, false
}
