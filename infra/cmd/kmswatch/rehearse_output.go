package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
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

	res := reh.result
	fmt.Fprintln(w, "\nRules:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RULE\tFIRES\tMATCHED\tALARM TRANSITIONS")
	counts := res.Counts()
	for i, r := range res.Rules {
		var trs []string
		for _, tr := range res.Evaluations[i].Transitions {
			trs = append(trs, fmt.Sprintf("%s -> %s at %s", tr.From, tr.To, tr.At.Format(time.TimeOnly)))
		}
		if r.Firing.Immediate && counts[i] > 0 {
			trs = append(trs, fmt.Sprintf("notified %d times at once", counts[i]))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", r.ID, r.Firing, counts[i], dash(strings.Join(trs, ", ")))
	}
	tw.Flush()

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
				"from": tr.From, "to": tr.To, "reason": tr.Reason(r.Firing),
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
