package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

const replayAbout = `Reads CloudTrail logs in the forms users have them, told apart by content, not by file name:
  - {"Records":[...]} files as CloudTrail writes them to S3 (gzip'd or not), and JSON arrays of records;
  - single records; JSON lines; CloudWatch Logs exports (a timestamp before each record); the app's
    own slog lines;
  - EventBridge events ("detail-type": "AWS API Call via CloudTrail", the record in "detail");
  - the output of aws cloudtrail lookup-events (Events[].CloudTrailEvent) and of aws logs
    filter-log-events (events[].message; --output json or text);
  - CloudTrail Lake query results (QueryResultRows), eventTime written 2024-01-01 00:00:00.000.
A UTF-8 byte-order mark is skipped; gzip is told by its magic bytes; directories are walked
recursively. CloudTrail Insights events and digest files are recognised and counted, not judged;
Insights events are shown as context. JSON of no known shape is named on stderr with the reason.
Records stream through one at a time, so memory does not grow with the size of a file.

Prints a summary line (files read, records judged by shape, what was skipped and why), then, per
rule, the periods whose count reaches the threshold and the records that matched.

The rules fire as shipped unless --stack-config names a stack file (Pulumi.<stack>.yaml, with
Pulumi.yaml beside it): then with that stack's firing settings, as deployed. --set NAME=VALUE
overrides one setting, named as in Pulumi.yaml: the rule's id in lower camel case and Threshold,
PeriodSeconds, EvaluationPeriods or DatapointsToAlarm (appDecryptVolumeThreshold=500).

--html FILE also writes one self-contained page (inline SVG, nothing fetched when it is opened):
per rule, its count per period over the whole replay, quiet periods included, with the threshold
line, breaching periods and alarm transitions marked, and the principals, source addresses and
keys behind the matches. Long histories are drawn a bar per group of windows, each the tallest of
its group; the tooltips and tables keep the exact counts.

On a terminal, a progress line on stderr shows files and records done, the rate and the time
left while files are read; it is not drawn with --json or when stderr is not a terminal.

The app rules (app-kms-errors, app-decrypt-volume, app-decrypt-unmatched) look for the app's task
role: without --role-arn they are skipped, with a note. Rules that notify at once fire per event.

app-decrypt-unmatched joins the trail with the app's log: give both (the app log group's export
holds the decrypt_served lines). Each successful Decrypt by the task role whose requestID no
decrypt_served line carries (its kms_request_id) is reported, with caller, address and time; one
outside the times the app log covers is not judged, and a note counts those. Only the request ids
are kept in memory. app-key-decrypt-rate counts what AWS/KMS's per-key metric counts, the
successful Decrypts of the app key by anyone, and needs --app-key-arn; app-decrypt-unserved alarms
on metric math that no log holds and is skipped, with a note.

--key-arn scopes kms-key-policy-change and kms-key-disable-or-delete to the given keys, wherever a
call names them: requestParameters.keyId (key ARN, key id, alias name or alias ARN, as the caller
sent it), targetKeyId and aliasName of alias calls, or resources. The deployed CloudWatch filter of
kms-key-disable-or-delete stays the CIS benchmark's text verbatim (Security Hub's CloudWatch.7 checks
it) and so watches every key of the account: its key scope is a replay-time scope only. A bare key
id becomes a key ARN with --account and --region; what cannot be resolved offline is said on stderr,
with how it is matched instead.

With --json: JSON lines, one per matched record
  {"type":"match","rule","eventID","eventTime","eventName","errorCode","principal","sourceIPAddress","file"}
whether or not its period breaches, one per breaching period
  {"type":"period","rule","periodStart","count","threshold","state"},
and one per Insights event {"type":"insight","eventTime","state","insightType","eventSource","eventName","file"};
the summary line goes to stderr.

Exit status: 0 when no alarm would have fired, 1 when one would have (or an immediate rule fired),
when an input could not be read or held JSON of no known shape (reported on stderr by file and
line), or when no input held a single record; 2 for bad usage.`

type replayFlags struct {
	roleARN   string
	appKeyARN string
	keyRefs   stringList
	account   string
	region    string
	period    time.Duration
	ruleIDs   stringList
	limit     int
	asJSON    bool
	paths     []string
	selected  []rules.Rule
	params    rules.Params
	firing    firingFlags // --stack-config, --set (firing.go)
	htmlPath  string      // --html (replay_html.go)
	command   string      // the subcommand the flags are for, in messages: "replay" when ""
	skipped   []string    // what was left out of the run and why, as noted on stderr (the page repeats it)
}

// skip notes on stderr that rules are left out of the run, and why, and keeps the note.
func (f *replayFlags) skip(stderr io.Writer, format string, args ...any) {
	note := fmt.Sprintf(format, args...)
	f.skipped = append(f.skipped, note)
	fmt.Fprintf(stderr, "kmswatch %s: note: %s\n", f.name(), note)
}

func (f *replayFlags) name() string {
	if f.command == "" {
		return "replay"
	}
	return f.command
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	var f replayFlags
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.StringVar(&f.roleARN, "role-arn", "", "the app's ECS task role: its role ARN, or an assumed-role session ARN (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION means role NAME)")
	fs.Var(&f.keyRefs, "key-arn", "a KMS key of the stack: key ARN, key id, alias name or alias ARN (repeatable; default: any key)")
	fs.StringVar(&f.appKeyARN, "app-key-arn", "", "the app key's ARN: app-key-decrypt-rate counts its successful Decrypts, as AWS/KMS's per-key metric does")
	fs.StringVar(&f.account, "account", "", "keep to records of this AWS account: recipientAccountId, else an EventBridge event's account, else the caller's (app log lines are kept)")
	fs.StringVar(&f.region, "region", "", "keep to records of this Region: awsRegion, else an EventBridge event's region (app log lines are kept)")
	fs.DurationVar(&f.period, "period", 0, "evaluate every alarm over this period instead of its own (a multiple of 60s)")
	fs.Var(&f.ruleIDs, "rule", "replay only this rule (repeatable; default: all)")
	fs.IntVar(&f.limit, "limit", 20, "rows per section in the table; 0 for all (--json always prints all)")
	fs.BoolVar(&f.asJSON, "json", false, "JSON lines instead of a table")
	f.firing.register(fs)
	fs.StringVar(&f.htmlPath, "html", "", "also write the replay as one self-contained HTML page to `FILE`: per rule, its count per period with the threshold, breaches, alarms and who was behind them")
	fs.Usage = usageFunc(fs, "kmswatch replay [flags] FILE|DIR...", replayAbout)
	var code int
	var ok bool
	if f.paths, code, ok = parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if code, ok := f.validate(stderr); !ok {
		return code
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	var table *replayTable
	opt := rules.ReplayOptions{Rules: f.selected, Params: f.params, Account: f.account, Region: f.region}
	if f.asJSON {
		var j jsonLine
		opt.OnMatch = func(m rules.Match) { writeMatchJSON(w, &j, f.selected, m) }
	} else {
		table = newReplayTable(f.selected, f.limit)
		opt.OnMatch = table.add
	}
	page := f.collectForHTML(&opt)
	progress := startProgress(stderr, "replay", !f.asJSON, &opt)
	res := rules.Replay(f.paths, opt)
	progress.stop()
	res.SortProblems()
	for _, p := range res.Problems {
		fmt.Fprintf(stderr, "kmswatch replay: %v\n", p)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "kmswatch replay: note: %s\n", n)
	}
	summary := summaryLine(res)
	if f.asJSON {
		writeReplayJSON(w, res)
		fmt.Fprintln(stderr, summary)
	} else {
		fmt.Fprintln(w, summary)
		table.write(w, res)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "kmswatch replay: writing output: %v\n", err)
		return exitFindings
	}
	if !page.write(res, &f, stderr) {
		return exitFindings
	}
	if res.Records == 0 {
		fmt.Fprintf(stderr, "kmswatch replay: no records: %s read, and none held a CloudTrail record or an app log line to judge\n", plural(res.Files, "file"))
		return exitFindings
	}
	if len(res.Problems) > 0 || fired(res) {
		return exitFindings
	}
	return exitOK
}

func (f *replayFlags) validate(stderr io.Writer) (int, bool) {
	if len(f.paths) == 0 {
		return usageError(stderr, f.name(), "no FILE or DIR given"), false
	}
	if f.limit < 0 {
		return usageError(stderr, f.name(), "--limit %d: must be 0 or more", f.limit), false
	}
	if f.account != "" {
		if err := rules.CheckAccount(f.account); err != nil {
			return usageError(stderr, f.name(), "--account %v", err), false
		}
	}
	if f.region != "" {
		if err := rules.CheckRegion(f.region); err != nil {
			return usageError(stderr, f.name(), "--region %v", err), false
		}
	}
	params, notes, err := keyParams(f.keyRefs, f.account, f.region)
	if err != nil {
		return usageError(stderr, f.name(), "%v", err), false
	}
	f.params = params
	for i, n := range notes {
		notes[i] = "--key-arn " + n
	}
	if f.roleARN != "" { // every bad value is refused before anything is noted
		role, note, err := rules.RoleScope(f.roleARN)
		if err != nil {
			return usageError(stderr, f.name(), "--role-arn %v", err), false
		}
		f.params.TaskRoleARN = role
		if note != "" {
			notes = append(notes, note)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "kmswatch %s: note: %s\n", f.name(), n)
	}
	all, err := f.firing.rules()
	if err != nil {
		return usageError(stderr, f.name(), "%v", err), false
	}
	if len(f.ruleIDs) > 0 {
		for _, id := range f.ruleIDs {
			r, ok := ruleByID(all, id)
			if !ok {
				return usageError(stderr, f.name(), "--rule %q: no such rule (see 'kmswatch rules')", id), false
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
				return usageError(stderr, f.name(), "--period %s: %v", f.period, err), false
			}
			f.selected[i] = r.WithFiring(firing)
		}
	}
	if code, ok := f.selectMetricsRules(stderr); !ok {
		return code, false
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
			f.skip(stderr, "%s skipped: %s for the app's task role; pass --role-arn", strings.Join(skipped, ", "), theyOrIt(len(skipped), "look"))
		}
		f.selected = kept
		return exitOK, true
	}
	return exitOK, true
}

// keyParams reads --key-arn values in any of the four forms KMS names keys in.
func keyParams(values []string, account, region string) (rules.Params, []string, error) {
	var refs []rules.KeyRef
	for _, v := range values {
		k, err := rules.ParseKeyRef(v)
		if err != nil {
			return rules.Params{}, nil, fmt.Errorf("--key-arn %w", err)
		}
		refs = append(refs, k)
	}
	p, notes := rules.KeyScope(refs, account, region)
	return p, notes, nil
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
