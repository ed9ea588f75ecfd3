package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// writeMatchJSON writes one match line; replay calls it per match, in time order.
func writeMatchJSON(w *bufio.Writer, j *jsonLine, rs []rules.Rule, m rules.Match) {
	j.begin()
	j.str("type", "match")
	j.str("rule", rs[m.Rule].ID)
	j.str("eventID", m.EventID)
	j.time("eventTime", m.EventTime)
	j.str("eventName", m.EventName)
	j.str("errorCode", m.ErrorCode)
	j.str("principal", m.Principal)
	j.str("sourceIPAddress", m.SourceIPAddress)
	j.str("file", m.File)
	_, _ = w.Write(j.end()) // bufio.Writer keeps the first error; the caller flushes
}

// writeReplayJSON writes the lines that follow the matches: breaching periods, Insights events.
func writeReplayJSON(w *bufio.Writer, res *rules.ReplayResult) {
	var j jsonLine
	for i, r := range res.Rules {
		threshold := r.Firing.Threshold
		if r.Firing.Immediate {
			threshold = 1
		}
		for _, p := range res.Evaluations[i].Periods { // not Breaching(): it copies them all
			if !p.Breaching {
				continue
			}
			j.begin()
			j.str("type", "period")
			j.str("rule", r.ID)
			j.time("periodStart", p.Start)
			j.int("count", p.Count)
			j.float("threshold", threshold)
			j.str("state", string(p.State))
			_, _ = w.Write(j.end()) // bufio.Writer keeps the first error; the caller flushes
		}
	}
	for _, in := range res.Insights {
		j.begin()
		j.str("type", "insight")
		j.time("eventTime", in.EventTime)
		j.str("state", in.State)
		j.str("insightType", in.InsightType)
		j.str("eventSource", in.EventSource)
		j.str("eventName", in.EventName)
		j.str("file", in.File)
		_, _ = w.Write(j.end())
	}
}

// summaryLine says what a run read: files, records judged by shape, what was passed over and
// why, and what went wrong.
func summaryLine(res *rules.ReplayResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Replayed %s from %s", plural(res.Records, "record"), plural(res.Files, "file"))
	type count struct {
		name string
		n    int
	}
	var shapes []count
	for name, n := range res.Tally.ByShape {
		shapes = append(shapes, count{name, n})
	}
	slices.SortFunc(shapes, func(a, b count) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	if len(shapes) > 0 {
		var parts []string
		for _, s := range shapes {
			parts = append(parts, s.name+": "+number(s.n))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	var skipped []string
	t := res.Tally
	if t.Insights > 0 {
		skipped = append(skipped, plural(t.Insights, "Insights event")+" (not judged)")
	}
	if t.Digests > 0 {
		skipped = append(skipped, plural(t.Digests, "digest file"))
	}
	switch {
	case t.NotLogs == 1:
		skipped = append(skipped, "1 file that is not a log")
	case t.NotLogs > 1:
		skipped = append(skipped, fmt.Sprintf("%d files that are not logs", t.NotLogs))
	}
	if t.OutOfScope > 0 {
		skipped = append(skipped, plural(t.OutOfScope, "record")+" outside --account/--region")
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "; skipped %s", strings.Join(skipped, ", "))
	}
	if t.Unknown > 0 {
		fmt.Fprintf(&b, "; %s of no known shape (on stderr)", plural(t.Unknown, "JSON value"))
	}
	if n := len(res.Problems); n > t.Unknown {
		fmt.Fprintf(&b, "; %s (on stderr)", plural(n-t.Unknown, "problem"))
	}
	b.WriteString(".")
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return number(n) + " " + noun + "s" // with thousands separators, as tune and the report print counts
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func breachCount(n int) string {
	if n == 1 {
		return "1 period breaches"
	}
	return fmt.Sprintf("%d periods breach", n)
}

// replayTable keeps, per rule, the first matches the table shows and how many there were.
type replayTable struct {
	rules []rules.Rule
	limit int
	shown [][]rules.Match
	total []int
}

func newReplayTable(rs []rules.Rule, limit int) *replayTable {
	return &replayTable{rules: rs, limit: limit, shown: make([][]rules.Match, len(rs)), total: make([]int, len(rs))}
}

func (t *replayTable) add(m rules.Match) {
	t.total[m.Rule]++
	if t.limit == 0 || len(t.shown[m.Rule]) < t.limit {
		t.shown[m.Rule] = append(t.shown[m.Rule], m)
	}
}

func (t *replayTable) write(w io.Writer, res *rules.ReplayResult) {
	for i, r := range res.Rules {
		ev := res.Evaluations[i]
		breaching := ev.Breaching()
		if r.Firing.Immediate {
			fmt.Fprintf(w, "\n%s [%s] fires %s: %s matched, fired %s\n", r.ID, r.Severity, r.Firing, plural(t.total[i], "record"), times(len(breaching)))
		} else {
			fmt.Fprintf(w, "\n%s [%s] fires %s: %s matched, %s, %s\n", r.ID, r.Severity, r.Firing,
				plural(t.total[i], "record"), breachCount(len(breaching)), plural(len(ev.Transitions), "alarm transition"))
		}
		if len(breaching) > 0 && !r.Firing.Immediate {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  PERIOD START\tCOUNT\tTHRESHOLD\tSTATE")
			for k, p := range breaching {
				if t.limit > 0 && k == t.limit {
					fmt.Fprintf(tw, "  ... %d more\t\t\t\n", len(breaching)-t.limit)
					break
				}
				fmt.Fprintf(tw, "  %s\t%d\t%g\t%s\n", p.Start.UTC().Format(time.RFC3339), p.Count, r.Firing.Threshold, p.State)
			}
			tw.Flush()
		}
		if len(t.shown[i]) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TIME\tEVENT\tERROR\tPRINCIPAL\tSOURCE IP")
			for _, m := range t.shown[i] {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.EventTime.UTC().Format(time.RFC3339), m.EventName,
					dash(m.ErrorCode), dash(m.Principal), dash(m.SourceIPAddress))
			}
			if more := t.total[i] - len(t.shown[i]); more > 0 {
				fmt.Fprintf(tw, "  ... %d more\t\t\t\t\n", more)
			}
			tw.Flush()
		}
	}
	if len(res.Insights) > 0 {
		fmt.Fprintf(w, "\nCloudTrail Insights, as context (no rule judges them): %s\n", plural(len(res.Insights), "event"))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIME\tSTATE\tINSIGHT\tSOURCE\tEVENT")
		for k, in := range res.Insights {
			if t.limit > 0 && k == t.limit {
				fmt.Fprintf(tw, "  ... %d more\t\t\t\t\n", len(res.Insights)-t.limit)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", in.EventTime.UTC().Format(time.RFC3339), dash(in.State),
				dash(in.InsightType), dash(in.EventSource), dash(in.EventName))
		}
		tw.Flush()
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
