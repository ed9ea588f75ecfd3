package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// tuning is what tune found, as the table and --json print it.
type tuning struct {
	Summary  string         `json:"summary"`
	Firing   string         `json:"firing"`
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Method   string         `json:"method"`
	Rules    []tunedRule    `json:"rules"`
	NotTuned []notTunedRule `json:"notTuned"`
}

const suggestionMethod = "floor(1.5 x p99.9) + 1 of the Sum per period at every evaluation minute"

type tunedRule struct {
	ID                string       `json:"id"`
	Severity          string       `json:"severity"`
	Firing            string       `json:"firing"`
	Setting           string       `json:"setting"`
	PeriodSeconds     int          `json:"periodSeconds"`
	Matched           int          `json:"matched"`
	Windows           int          `json:"windows"`
	WindowsWithEvents int          `json:"windowsWithEvents"`
	Percentiles       []percentile `json:"percentiles"`
	Max               int          `json:"max"`
	Mean              float64      `json:"mean"`
	Histogram         []histBucket `json:"histogram"`
	Current           int          `json:"current"`
	Suggested         *int         `json:"suggested"` // null without history to go on
	Candidates        []candidate  `json:"candidates"`
	ConfigSet         []string     `json:"configSet"`
	Notes             []string     `json:"notes,omitempty"`
}

type percentile struct {
	Name  string  `json:"name"`
	Q     float64 `json:"q"`
	Count int     `json:"count"`
}

type histBucket struct {
	From    int `json:"from"`
	To      int `json:"to"`
	Windows int `json:"windows"`
}

type candidate struct {
	Threshold        int      `json:"threshold"`
	Why              []string `json:"why"`
	Alarms           int      `json:"alarms"`
	MinutesInAlarm   int      `json:"minutesInAlarm"`
	BreachingWindows int      `json:"breachingWindows"`
}

var quantiles = []percentile{{"p50", 0.5, 0}, {"p90", 0.9, 0}, {"p99", 0.99, 0}, {"p99.9", 0.999, 0}}

// shortHistory is the number of windows under which the 99.9th percentile is the maximum.
const shortHistory = 1000

func tuneRule(r rules.Rule, s rules.Series, perMinute []rules.MinuteCount, matched int, ff *firingFlags) tunedRule {
	c := countsOf(s)
	t := tunedRule{
		ID: r.ID, Severity: string(r.Severity), Firing: r.Firing.String(), Setting: rules.SettingName(r.ID, rules.SettingThreshold),
		PeriodSeconds: int(r.Firing.Period / time.Second), Matched: matched, Windows: c.windows, WindowsWithEvents: len(c.sorted),
		Max: c.max(), Current: int(r.Firing.Threshold), Histogram: histogram(c),
	}
	sum := 0
	for _, v := range c.sorted {
		sum += v
	}
	if c.windows > 0 {
		t.Mean = float64(sum) / float64(c.windows)
	}
	for _, q := range quantiles {
		q.Count = c.percentile(q.Q)
		t.Percentiles = append(t.Percentiles, q)
	}
	p99, p999 := t.Percentiles[2].Count, t.Percentiles[3].Count
	type pick struct {
		threshold int
		why       string
	}
	picks := []pick{{t.Current, "now"}}
	if matched == 0 {
		t.Notes = append(t.Notes, "no match in the history: nothing to tune from, the threshold stays")
	} else {
		suggested := suggest(p999)
		t.Suggested = &suggested
		picks = append(picks, pick{suggested, fmt.Sprintf("suggested: floor(1.5 x p99.9 %d) + 1", p999)},
			pick{p99 + 1, "p99 + 1"}, pick{p999 + 1, "p99.9 + 1"}, pick{t.Max + 1, "max + 1: never breached"})
		t.ConfigSet = configLines(r, suggested, ff)
		if p999 == 0 {
			t.Notes = append(t.Notes, fmt.Sprintf("it matched in %s of %s windows, under 0.1%%: the 99.9th percentile is 0, so the suggestion alarms on a single event; keep %d if single events are normal here",
				number(len(c.sorted)), number(c.windows), t.Current))
		}
		if c.windows < shortHistory {
			t.Notes = append(t.Notes, fmt.Sprintf("%s windows only: their 99.9th percentile is their maximum; a longer history tunes better", number(c.windows)))
		}
	}
	for _, p := range picks {
		k := slices.IndexFunc(t.Candidates, func(c candidate) bool { return c.Threshold == p.threshold })
		if k >= 0 {
			t.Candidates[k].Why = append(t.Candidates[k].Why, p.why)
			continue
		}
		t.Candidates = append(t.Candidates, evaluateCandidate(r.Firing, p.threshold, perMinute, c, p.why))
	}
	slices.SortFunc(t.Candidates, func(a, b candidate) int { return a.Threshold - b.Threshold })
	return t
}

// evaluateCandidate runs the rule's alarm at another threshold over the history.
func evaluateCandidate(f rules.Firing, threshold int, perMinute []rules.MinuteCount, c windowCounts, why string) candidate {
	f.Threshold = float64(threshold)
	ev := rules.EvaluateMinutes(f, perMinute)
	out := candidate{Threshold: threshold, Why: []string{why}, BreachingWindows: c.atLeast(threshold)}
	var since time.Time
	for _, tr := range ev.Transitions {
		if tr.To == rules.StateAlarm {
			out.Alarms++
			since = tr.At
		} else if !since.IsZero() {
			out.MinutesInAlarm += int(tr.At.Sub(since) / time.Minute)
			since = time.Time{}
		}
	}
	return out
}

// configLines set the suggested threshold, and the firing settings --set gave, which the stack
// does not have yet and the suggestion was computed with.
func configLines(r rules.Rule, threshold int, ff *firingFlags) []string {
	lines := []string{fmt.Sprintf("pulumi config set %s %d", rules.SettingName(r.ID, rules.SettingThreshold), threshold)}
	for _, field := range rules.SettingFields[1:] {
		if name := rules.SettingName(r.ID, field); ff.setByFlag(name) {
			lines = append(lines, fmt.Sprintf("pulumi config set %s %d", name, rules.SettingValue(r.Firing, field)))
		}
	}
	return lines
}

// histogram counts windows by count in powers of two: 0, 1, 2-3, 4-7, ...
func histogram(c windowCounts) []histBucket {
	out := []histBucket{{From: 0, To: 0, Windows: c.windows - len(c.sorted)}}
	for _, v := range c.sorted {
		for out[len(out)-1].To < v {
			last := out[len(out)-1]
			from := last.To + 1
			out = append(out, histBucket{From: from, To: 2*from - 1})
		}
		out[len(out)-1].Windows++
	}
	return out
}

func writeTuningJSON(w io.Writer, t tuning) {
	t.Method = suggestionMethod
	if t.NotTuned == nil {
		t.NotTuned = []notTunedRule{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(t) // the caller's Flush reports a write error
}

func writeTuningTable(w io.Writer, t tuning) {
	fmt.Fprintln(w, t.Summary)
	if !t.From.IsZero() {
		fmt.Fprintf(w, "History: %s to %s UTC (%s). Firing: %s.\n", t.From.Format("2006-01-02 15:04:05"), t.To.Format("2006-01-02 15:04:05"),
			spanLength(t.To.Sub(t.From)), t.Firing)
	}
	fmt.Fprintf(w, "Suggested threshold: %s (kmswatch tune --help says why).\n", suggestionMethod)
	for _, r := range t.Rules {
		fmt.Fprintf(w, "\n%s [%s] fires %s (%s)\n", r.ID, r.Severity, r.Firing, r.Setting)
		fmt.Fprintf(w, "  %s matched; %s windows of %s, one per evaluation minute, %s with events\n",
			countOf(r.Matched, "record"), number(r.Windows), shortPeriod(r.PeriodSeconds), number(r.WindowsWithEvents))
		var ps []string
		for _, p := range r.Percentiles {
			ps = append(ps, fmt.Sprintf("%s %s", p.Name, number(p.Count)))
		}
		fmt.Fprintf(w, "  count per window: %s, max %s, mean %.2f\n", strings.Join(ps, ", "), number(r.Max), r.Mean)
		var hs []string
		for _, h := range r.Histogram {
			label := number(h.From)
			if h.To != h.From {
				label += "-" + number(h.To)
			}
			hs = append(hs, fmt.Sprintf("%s: %s", label, number(h.Windows)))
		}
		fmt.Fprintf(w, "  windows by count: %s\n", strings.Join(hs, ", "))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  THRESHOLD\tALARMS\tMINUTES IN ALARM\tBREACHING WINDOWS\tWHY")
		for _, c := range r.Candidates {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", number(c.Threshold), number(c.Alarms), number(c.MinutesInAlarm), number(c.BreachingWindows), strings.Join(c.Why, "; "))
		}
		tw.Flush()
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if r.Suggested != nil && *r.Suggested == r.Current && len(r.ConfigSet) == 1 {
			fmt.Fprintf(w, "  applied already: the threshold is the suggestion (%s)\n", r.ConfigSet[0])
			continue
		}
		for _, line := range r.ConfigSet {
			fmt.Fprintf(w, "  to apply: %s\n", line)
		}
	}
	if len(t.NotTuned) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.NotTuned {
			fmt.Fprintf(w, "%s: not tuned: %s\n", n.ID, n.Reason)
		}
	}
}

// countOf is plural with thousands separators: "1 record", "14,129 records".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return number(n) + " " + noun + "s"
}

// spanLength says how long a history is, to the nearest minute: "4 min", "25 h 33 min", "2,943 days".
// The times beside it are printed to the second, so 22:25:00.9 to 22:29:00.2 is "4 min", not 3.
func spanLength(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", d/time.Hour, d%time.Hour/time.Minute)
	}
	return number(int(d/(24*time.Hour))) + " days"
}

func shortPeriod(seconds int) string {
	if seconds%3600 == 0 {
		return fmt.Sprintf("%d h", seconds/3600)
	}
	return fmt.Sprintf("%d min", seconds/60)
}
