// Package report renders a replay as one self-contained HTML page: per rule, its count per
// period over the whole replay as its alarm evaluates it, the threshold line, the breaching
// periods and alarm transitions marked, and the principals, source addresses and keys behind
// the matches. The page is inline SVG and CSS, with no script and nothing to fetch, so it opens
// offline and its markup is stable enough for golden files. It takes the replay's result as data
// and imports neither the Pulumi program nor the AWS SDK.
package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// Report is what a page is made from. The replay should keep its span and the matches' keys
// (ReplayOptions.Span, MatchKeys): without the span a rule is drawn over its matches' stretch
// only, and without the keys the keys table is empty.
type Report struct {
	Result       *rules.ReplayResult
	Contributors *Contributors // the matches' principals, addresses and keys; nil leaves them out
	Inputs       []string      // the files and directories replayed, as given
	Firing       string        // where the rules' firing came from, e.g. "Pulumi.dev.yaml"
	Notes        []string      // said at the top: rules skipped and why
}

// Rows kept in each table: the chart shows everything, the tables the first of it exactly.
const (
	maxRows = 50
	topN    = 5
)

//go:embed page.html.tmpl
var pageText string

// page is parsed when first used: kmswatch links this package, and a replay without --html
// should not pay for the parse.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"num": number,
		"pct": func(part, whole int) string {
			if whole == 0 {
				return ""
			}
			return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
		},
		"f1": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	}).Parse(pageText))
})

// Write renders the page.
func Write(w io.Writer, r Report) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := page().Execute(bw, build(r)); err != nil {
		return err
	}
	return bw.Flush()
}

type pageView struct {
	Summary string
	Span    string
	Inputs  []string
	Firing  string
	Notes   []string
	Rules   []ruleView
}

type ruleView struct {
	ID, Title, Severity, Firing, Description, Runbook string
	Immediate                                         bool
	Matched, BreachingWindows, Alarms                 int
	Period                                            string
	Chart                                             chartView
	Tops                                              []topView
	Runs                                              []runView
	MoreRuns, RunCount                                int
	Transitions                                       []transitionView
	MoreTransitions, TransitionCount                  int
}

type topView struct {
	Field string
	Top   Top
	Total int
}

type runView struct {
	From, To     string
	Windows, Max int
	MaxAt        string
}

type transitionView struct {
	At, From, To, Datapoints string
}

func build(r Report) pageView {
	res := r.Result
	v := pageView{Inputs: r.Inputs, Firing: r.Firing, Notes: r.Notes}
	v.Summary = fmt.Sprintf("%s from %s", plural(res.Records, "record"), plural(res.Files, "file"))
	if n := len(res.Problems); n > 0 {
		v.Summary += fmt.Sprintf("; %s problems reading them (listed by kmswatch on stderr)", number(n))
	}
	if !res.First().IsZero() {
		v.Span = fmt.Sprintf("%s to %s UTC", clock(res.First()), clock(res.Last()))
	}
	counts := res.Counts()
	for i, rule := range res.Rules {
		v.Rules = append(v.Rules, buildRule(r, i, rule, counts[i]))
	}
	return v
}

func buildRule(r Report, i int, rule rules.Rule, matched int) ruleView {
	s := r.Result.Series(i)
	ev := r.Result.Evaluations[i]
	v := ruleView{
		ID: rule.ID, Title: rule.Title, Severity: string(rule.Severity), Firing: rule.Firing.String(),
		Description: rule.Description, Runbook: rule.Runbook, Immediate: rule.Firing.Immediate,
		Matched: matched, Period: period(s.Period),
	}
	for _, w := range s.Events {
		if w.Breaching {
			v.BreachingWindows++
		}
	}
	for _, tr := range ev.Transitions {
		if tr.To == rules.StateAlarm {
			v.Alarms++
		}
	}
	v.Chart = buildChart(s, ev.Transitions)
	if r.Contributors != nil {
		v.Tops = []topView{
			{"Principals", r.Contributors.Principals(i, topN), matched},
			{"Source addresses", r.Contributors.Sources(i, topN), matched},
			{"Keys", r.Contributors.Keys(i, topN), matched},
		}
	}
	v.Runs, v.MoreRuns = breachRuns(s)
	v.RunCount, v.TransitionCount = len(v.Runs)+v.MoreRuns, len(ev.Transitions)
	for k, tr := range ev.Transitions {
		if k == maxRows {
			v.MoreTransitions = len(ev.Transitions) - maxRows
			break
		}
		v.Transitions = append(v.Transitions, viewTransition(tr))
	}
	return v
}

// breachRuns lists the runs of consecutive breaching windows, exactly, the first maxRows of them.
func breachRuns(s rules.Series) ([]runView, int) {
	var out []runView
	more := 0
	var cur *runView
	last, lastEnd := -2, time.Time{}
	flush := func() {
		if cur == nil {
			return
		}
		cur.To = clock(lastEnd)
		if len(out) < maxRows {
			out = append(out, *cur)
		} else {
			more++
		}
		cur = nil
	}
	for _, w := range s.Events {
		k := s.Index(w.Start)
		if !w.Breaching {
			continue
		}
		if cur == nil || k != last+1 {
			flush()
			cur = &runView{From: clock(w.Start)}
		}
		cur.Windows++
		if w.Count > cur.Max {
			cur.Max, cur.MaxAt = w.Count, clock(w.Start)
		}
		last, lastEnd = k, w.Start.Add(s.Period)
	}
	flush()
	return out, more
}

func viewTransition(tr rules.Transition) transitionView {
	breaching := 0
	for _, d := range tr.Datapoints {
		if d.Breaching {
			breaching++
		}
	}
	points := fmt.Sprintf("%d of %d breach", breaching, len(tr.Datapoints))
	if len(tr.Datapoints) > 0 {
		newest := tr.Datapoints[0]
		points += fmt.Sprintf("; newest, from %s: %s", clock(newest.Start), number(newest.Count))
	}
	return transitionView{At: clock(tr.At), From: string(tr.From), To: string(tr.To), Datapoints: points}
}

// clock writes a time as the page does everywhere: UTC, to the minute (seconds when there are).
func clock(t time.Time) string {
	t = t.UTC()
	if t.Second() != 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return number(n) + " " + noun + "s"
}

// number writes a count with thousands separators: 12,345.
func number(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
