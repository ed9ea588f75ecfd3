package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

const tuneAbout = `Suggests thresholds from history: replays the logs given (every form replay reads) through the
volume rules and, per rule, prints the distribution of its count per period, a suggested
threshold, how many alarms each candidate threshold would have raised over that history, and the
pulumi config set line that applies the suggestion.

Volume rules are the rules with an alarm whose shipped threshold is above 1, a count normal use
reaches: app-kms-errors, app-decrypt-volume, app-decrypt-denied, and app-key-decrypt-rate (with
--app-key-arn: it counts the app key's successful Decrypts, as AWS/KMS's metric does).
kms-key-disable-or-delete alarms on a single event by design (the CIS benchmark's alarm), and
kms-key-policy-change and app-decrypt-unmatched notify per event: history must not argue them away,
so they are listed and not tuned. app-decrypt-unserved alarms on metric math no log holds: it is
skipped, with a note.

The counts are those the alarm evaluates: the Sum over one period at every evaluation minute of
the history, quiet minutes included, at the firing the stack deploys (--stack-config, --set).

Suggested threshold: floor(1.5 x p99.9) + 1, the smallest count above half again the 99.9th
percentile of those counts. The percentile puts the threshold above the history's normal peaks
while a burst of up to 0.1% of the windows (one incident in the history, about 1.4 hours in 60
days) does not lift it; the margin leaves room for growth. The history is taken to be normal
activity: an incident that fills more than 0.1% of it raises the suggestion, which the table of
candidates shows. A rule with no match in the history gets no suggestion.

Each candidate is run through the alarm evaluator replay uses (every minute, M of N periods,
missing data not breaching): ALARMS counts the changes from OK to ALARM.

Exit status: 0 done; 1 when an input could not be read or no input held a record; 2 bad usage.`

func runTune(args []string, stdout, stderr io.Writer) int {
	f := replayFlags{command: "tune"}
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.StringVar(&f.roleARN, "role-arn", "", "the app's ECS task role: its role ARN, or an assumed-role session ARN (the app rules need it)")
	fs.Var(&f.keyRefs, "key-arn", "a KMS key of the stack: key ARN, key id, alias name or alias ARN (repeatable; default: any key)")
	fs.StringVar(&f.appKeyARN, "app-key-arn", "", "the app key's ARN: app-key-decrypt-rate counts its successful Decrypts, as AWS/KMS's per-key metric does")
	fs.StringVar(&f.account, "account", "", "keep to records of this AWS account (as replay --account)")
	fs.StringVar(&f.region, "region", "", "keep to records of this Region (as replay --region)")
	fs.Var(&f.ruleIDs, "rule", "tune only this rule (repeatable; default: every volume rule)")
	fs.BoolVar(&f.asJSON, "json", false, "one JSON document instead of a table")
	f.firing.register(fs)
	fs.Usage = usageFunc(fs, "kmswatch tune [flags] FILE|DIR...", tuneAbout)
	var code int
	var ok bool
	if f.paths, code, ok = parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if code, ok := f.validate(stderr); !ok {
		return code
	}
	var volume []rules.Rule
	var notTuned []notTunedRule
	for _, r := range f.selected {
		if reason := whyNotTuned(r); reason != "" {
			notTuned = append(notTuned, notTunedRule{ID: r.ID, Reason: reason})
			continue
		}
		volume = append(volume, r)
	}
	if len(volume) == 0 {
		return usageError(stderr, "tune", "no volume rule to tune among %s (see 'kmswatch tune --help')", ruleIDs(f.selected))
	}
	perMinute := make([][]rules.MinuteCount, len(volume))
	opt := rules.ReplayOptions{Rules: volume, Params: f.params, Account: f.account, Region: f.region, Span: true,
		OnMatch: func(m rules.Match) { perMinute[m.Rule] = countMinute(perMinute[m.Rule], m.EventTime) }}
	progress := startProgress(stderr, "tune", !f.asJSON, &opt)
	res := rules.Replay(f.paths, opt)
	progress.stop()
	res.SortProblems()
	for _, p := range res.Problems {
		fmt.Fprintf(stderr, "kmswatch tune: %v\n", p)
	}
	if res.Records == 0 {
		fmt.Fprintf(stderr, "kmswatch tune: no records: %s read, and none held a CloudTrail record or an app log line to judge\n", plural(res.Files, "file"))
		return exitFindings
	}
	t := tuning{Summary: summaryLine(res), Firing: f.firing.source(""), NotTuned: notTuned}
	if !res.First().IsZero() {
		t.From, t.To = res.First().UTC(), res.Last().UTC()
	}
	for i, r := range volume {
		t.Rules = append(t.Rules, tuneRule(r, res.Series(i), perMinute[i], res.Counts()[i], &f.firing))
	}
	w := bufio.NewWriter(stdout)
	if f.asJSON {
		writeTuningJSON(w, t)
	} else {
		writeTuningTable(w, t)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "kmswatch tune: writing output: %v\n", err)
		return exitFindings
	}
	if len(res.Problems) > 0 {
		return exitFindings
	}
	return exitOK
}

// whyNotTuned is "" for a volume rule, else why tune leaves the rule alone. It asks the rule as
// shipped, so that a stack that set a threshold of 1 does not make a volume rule one to leave.
func whyNotTuned(r rules.Rule) string {
	shipped, ok := rules.Lookup(r.ID)
	switch {
	case !ok || !r.Tunable():
		return "notifies at once, per event: it has no threshold"
	case shipped.Firing.Threshold <= 1:
		return "alarms on a single event by design: history does not tune it"
	}
	return ""
}

type notTunedRule struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func ruleIDs(rs []rules.Rule) string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if len(ids) == 0 {
		return "no rules"
	}
	return fmt.Sprint(ids)
}

// countMinute adds one event to per-minute counts that arrive in time order (OnMatch's order).
func countMinute(counts []rules.MinuteCount, t time.Time) []rules.MinuteCount {
	m := t.UTC().Truncate(time.Minute)
	if k := len(counts) - 1; k >= 0 && counts[k].Minute.Equal(m) {
		counts[k].Count++
		return counts
	}
	return append(counts, rules.MinuteCount{Minute: m, Count: 1})
}

// windowCounts is the distribution of a rule's Sum per window over the history.
type windowCounts struct {
	windows int   // all of them, quiet ones included
	sorted  []int // the counts of the windows with events, ascending
}

func countsOf(s rules.Series) windowCounts {
	c := windowCounts{windows: s.Len}
	for _, w := range s.Events {
		c.sorted = append(c.sorted, w.Count)
	}
	slices.Sort(c.sorted)
	return c
}

// percentile is the nearest-rank q-quantile: the smallest count that at least q of the
// windows do not exceed.
func (c windowCounts) percentile(q float64) int {
	if c.windows == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(c.windows))) // 1-based
	zeros := c.windows - len(c.sorted)
	if rank <= zeros {
		return 0
	}
	return c.sorted[min(rank-zeros, len(c.sorted))-1]
}

func (c windowCounts) max() int {
	if len(c.sorted) == 0 {
		return 0
	}
	return c.sorted[len(c.sorted)-1]
}

// atLeast is how many windows reach v.
func (c windowCounts) atLeast(v int) int {
	i, _ := slices.BinarySearch(c.sorted, v)
	return len(c.sorted) - i
}

// suggest is the method tuneAbout explains: floor(1.5 x p99.9) + 1.
func suggest(p999 int) int { return int(math.Floor(1.5*float64(p999))) + 1 }
