package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// loopStep is one step of a loop scenario: what it must show and what happened, at its simulated time.
type loopStep struct {
	At      time.Time `json:"at"`
	ID      string    `json:"step"`
	Title   string    `json:"title"`
	Want    string    `json:"want"`
	Got     string    `json:"got"`
	OK      bool      `json:"ok"`
	Delay   string    `json:"delay,omitempty"` // how this step's time follows from an earlier one, with the source
	Details []string  `json:"details,omitempty"`
}

// record adds a step, at the clock's time unless it says when it happened.
func (l *loop) record(s loopStep) {
	if s.At.IsZero() {
		s.At = l.clock.Now()
	}
	l.steps = append(l.steps, s)
}

// missing lists the steps a scenario must show that it did not.
func (l *loop) missing(required []string) []string {
	seen := map[string]bool{}
	for _, s := range l.steps {
		seen[s.ID] = true
	}
	var out []string
	for _, id := range required {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// passed: every required step happened, and every step happened as described.
func (l *loop) passed(required []string) bool {
	for _, s := range l.steps {
		if !s.OK {
			return false
		}
	}
	return len(l.missing(required)) == 0
}

func (l *loop) writeText(out io.Writer, about string, required []string) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintf(w, "Rehearsal %s: %s\n", l.scenario, about)
	fmt.Fprintf(w, "Simulated clock, %s UTC; CloudTrail reaches CloudWatch Logs %s after each call (--delivery-delay).\n",
		l.steps[0].At.Format("2006-01-02"), minutes(l.delay))
	for _, h := range l.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	for _, s := range l.steps {
		mark := "ok"
		if !s.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(w, "%s  %-6s %s: %s\n", s.At.Format(time.TimeOnly), mark, s.ID, s.Title)
		if s.Delay != "" {
			fmt.Fprintf(w, "%18s(%s)\n", "", s.Delay)
		}
		fmt.Fprintf(w, "%18s%s\n", "", s.Got)
		if !s.OK {
			fmt.Fprintf(w, "%18swant: %s\n", "", s.Want)
		}
		for _, d := range s.Details {
			for _, line := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
				fmt.Fprintf(w, "%18s  %s\n", "", line)
			}
		}
	}
	for _, id := range l.missing(required) {
		fmt.Fprintf(w, "MISSING  %s: the scenario ended before this step\n", id)
	}
	if l.passed(required) {
		fmt.Fprintf(w, "\nEvery step happened as described (%d steps).\n", len(l.steps))
	} else {
		fmt.Fprintln(w, "\nSome steps did not happen as described (FAILED or MISSING above).")
	}
}

func (l *loop) writeJSON(out io.Writer, required []string) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// These values always marshal; bufio.Writer keeps the first write error.
	for _, s := range l.steps {
		_ = enc.Encode(struct {
			Type     string `json:"type"`
			Scenario string `json:"scenario"`
			loopStep
		}{"step", l.scenario, s})
	}
	_ = enc.Encode(map[string]any{"type": "result", "scenario": l.scenario, "ok": l.passed(required),
		"steps": len(l.steps), "missing": l.missing(required), "deliveryDelay": l.delay.String(),
		"metricDelay": l.metricDelay.String(), "appLogDelay": l.appLogDelay.String()})
}

// indent prefixes every line of text.
func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, line := range lines {
		lines[i] = prefix + line
	}
	return strings.Join(lines, "\n")
}
