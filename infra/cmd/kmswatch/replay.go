package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

const replayAbout = `Reads CloudTrail logs in the forms users have them: the gzip'd {"Records":[...]} files CloudTrail
writes to S3, single-record JSON files, plain {"Records":[...]} JSON, and JSON lines (CloudWatch Logs
exports, optionally with a timestamp before each record; the app's own slog lines). gzip is told by
its magic bytes, not the file name; directories are walked recursively. Prints, per rule, the periods
whose count reaches the threshold and the records that matched.

The app rules (app-kms-errors, app-decrypt-volume) look for the app's task role: without --role-arn
they are skipped, with a note. Rules that notify at once fire per event.

With --json: JSON lines, one per matched record
  {"type":"match","rule","eventID","eventTime","eventName","errorCode","principal","sourceIPAddress","file"}
whether or not its period breaches, and one per breaching period
  {"type":"period","rule","periodStart","count","threshold","state"}.

Exit status: 0 when no alarm would have fired, 1 when one would have (or an immediate rule fired)
or when an input could not be read (reported on stderr by file and line), 2 for bad usage.`

type replayFlags struct {
	roleARN  string
	keyARNs  stringList
	period   time.Duration
	ruleIDs  stringList
	limit    int
	asJSON   bool
	paths    []string
	selected []rules.Rule
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	var f replayFlags
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.StringVar(&f.roleARN, "role-arn", "", "the app's ECS task role ARN; the app rules look for it")
	fs.Var(&f.keyARNs, "key-arn", "a KMS key ARN of the stack, to scope the key rules (repeatable; default: any key)")
	fs.DurationVar(&f.period, "period", 0, "evaluate every alarm over this period instead of its own (a multiple of 60s)")
	fs.Var(&f.ruleIDs, "rule", "replay only this rule (repeatable; default: all)")
	fs.IntVar(&f.limit, "limit", 20, "rows per section in the table; 0 for all (--json always prints all)")
	fs.BoolVar(&f.asJSON, "json", false, "JSON lines instead of a table")
	fs.Usage = usageFunc(fs, "kmswatch replay [flags] FILE|DIR...", replayAbout)
	var code int
	var ok bool
	if f.paths, code, ok = parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if code, ok := f.validate(stderr); !ok {
		return code
	}
	// Replay allocates little that lives long; fewer collections are worth the memory.
	debug.SetGCPercent(400)

	res := rules.Replay(f.paths, rules.ReplayOptions{
		Rules:  f.selected,
		Params: rules.Params{TaskRoleARN: f.roleARN, KeyARNs: f.keyARNs},
	})
	res.SortProblems()
	for _, p := range res.Problems {
		fmt.Fprintf(stderr, "kmswatch replay: %v\n", p)
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	if f.asJSON {
		writeReplayJSON(w, res)
	} else {
		writeReplayTable(w, res, f.limit)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "kmswatch replay: writing output: %v\n", err)
		return exitFindings
	}
	if len(res.Problems) > 0 || fired(res) {
		return exitFindings
	}
	return exitOK
}

func (f *replayFlags) validate(stderr io.Writer) (int, bool) {
	if len(f.paths) == 0 {
		return usageError(stderr, "replay", "no FILE or DIR given"), false
	}
	if f.limit < 0 {
		return usageError(stderr, "replay", "--limit %d: must be 0 or more", f.limit), false
	}
	all := rules.Default()
	if len(f.ruleIDs) > 0 {
		for _, id := range f.ruleIDs {
			r, ok := rules.Lookup(id)
			if !ok {
				return usageError(stderr, "replay", "--rule %q: no such rule (see 'kmswatch rules')", id), false
			}
			f.selected = append(f.selected, r)
		}
	} else {
		f.selected = all
	}
	if f.period != 0 {
		for i, r := range f.selected {
			if r.Firing.Immediate {
				continue
			}
			firing := r.Firing
			firing.Period = f.period
			if err := firing.Validate(); err != nil {
				return usageError(stderr, "replay", "--period %s: %v", f.period, err), false
			}
			f.selected[i] = r.WithFiring(firing)
		}
	}
	if f.roleARN == "" {
		var kept []rules.Rule
		var skipped []string
		for _, r := range f.selected {
			if r.UsesTaskRole() {
				skipped = append(skipped, r.ID)
				continue
			}
			kept = append(kept, r)
		}
		if len(skipped) > 0 {
			fmt.Fprintf(stderr, "kmswatch replay: note: %s skipped: they look for the app's task role; pass --role-arn\n", strings.Join(skipped, ", "))
		}
		f.selected = kept
	} else if !strings.HasPrefix(f.roleARN, "arn:") {
		return usageError(stderr, "replay", "--role-arn %q: want an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", f.roleARN), false
	}
	return exitOK, true
}

// fired reports whether an alarm went to ALARM or an immediate rule fired.
func fired(res *rules.ReplayResult) bool {
	for i, r := range res.Rules {
		ev := res.Evaluations[i]
		if len(ev.Transitions) > 0 || (r.Firing.Immediate && len(ev.Periods) > 0) {
			return true
		}
	}
	return false
}

func writeReplayJSON(w *bufio.Writer, res *rules.ReplayResult) {
	var j jsonLine
	for _, m := range res.Matches {
		j.begin()
		j.str("type", "match")
		j.str("rule", res.Rules[m.Rule].ID)
		j.str("eventID", m.EventID)
		j.time("eventTime", m.EventTime)
		j.str("eventName", m.EventName)
		j.str("errorCode", m.ErrorCode)
		j.str("principal", m.Principal)
		j.str("sourceIPAddress", m.SourceIPAddress)
		j.str("file", m.File)
		_, _ = w.Write(j.end()) // bufio.Writer keeps the first error; the caller flushes
	}
	for i, r := range res.Rules {
		threshold := r.Firing.Threshold
		if r.Firing.Immediate {
			threshold = 1
		}
		for _, p := range res.Evaluations[i].Breaching() {
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
}

func writeReplayTable(w io.Writer, res *rules.ReplayResult, limit int) {
	fmt.Fprintf(w, "Replayed %d records from %d files", res.Records, res.Files)
	if n := len(res.Problems); n > 0 {
		fmt.Fprintf(w, "; %d problems (on stderr)", n)
	}
	if n := len(res.Skipped); n > 0 {
		fmt.Fprintf(w, "; %d files skipped (not logs)", n)
	}
	fmt.Fprintln(w, ".")
	byRule := make([][]rules.Match, len(res.Rules))
	for _, m := range res.Matches {
		byRule[m.Rule] = append(byRule[m.Rule], m)
	}
	for i, r := range res.Rules {
		ev := res.Evaluations[i]
		breaching := ev.Breaching()
		if r.Firing.Immediate {
			fmt.Fprintf(w, "\n%s [%s] fires %s: %d records matched, fired %d times\n", r.ID, r.Severity, r.Firing, len(byRule[i]), len(breaching))
		} else {
			fmt.Fprintf(w, "\n%s [%s] fires %s: %d records matched, %d periods breach, %d alarm transitions\n",
				r.ID, r.Severity, r.Firing, len(byRule[i]), len(breaching), len(ev.Transitions))
		}
		if len(breaching) > 0 && !r.Firing.Immediate {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  PERIOD START\tCOUNT\tTHRESHOLD\tSTATE")
			for k, p := range breaching {
				if limit > 0 && k == limit {
					fmt.Fprintf(tw, "  ... %d more\t\t\t\n", len(breaching)-limit)
					break
				}
				fmt.Fprintf(tw, "  %s\t%d\t%g\t%s\n", p.Start.UTC().Format(time.RFC3339), p.Count, r.Firing.Threshold, p.State)
			}
			tw.Flush()
		}
		if len(byRule[i]) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TIME\tEVENT\tERROR\tPRINCIPAL\tSOURCE IP")
			for k, m := range byRule[i] {
				if limit > 0 && k == limit {
					fmt.Fprintf(tw, "  ... %d more\t\t\t\t\n", len(byRule[i])-limit)
					break
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.EventTime.UTC().Format(time.RFC3339), m.EventName,
					dash(m.ErrorCode), dash(m.Principal), dash(m.SourceIPAddress))
			}
			tw.Flush()
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
