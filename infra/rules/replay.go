package rules

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// ReplayOptions says what to replay log files against.
type ReplayOptions struct {
	Rules  []Rule // in the order results are reported; Default() when nil
	Params Params
	// Account and Region keep replay to what the stack's trail would see: records whose
	// recipientAccountId and awsRegion are these (for an EventBridge event, its account and
	// region when the record lacks them). Records without one are left out of a filter on it; app
	// log lines carry neither and are kept. "" keeps all.
	Account, Region string
	Workers         int // files read in parallel; GOMAXPROCS when 0
	// OnMatch, when set, receives every match in time order (ties in file order) once all files
	// are read, and Matches stays empty, so that memory stays flat however many records match:
	// what is kept of a match while files are read is on disk past a few MiB, and the alarm
	// evaluation at the end holds its time (24 bytes).
	OnMatch func(Match)
	// Progress, when set, counts files, bytes and records as they are read (progress.go).
	Progress *Progress
	// Span keeps the earliest and latest event time of every record judged (First, Last), so that
	// Series covers the whole history, not only the matches' stretch of it. MatchKeys fills each
	// match's Summary.Key. A report and tune ask for them; a plain replay, 1.4% faster, does not.
	Span, MatchKeys bool
	spillAt         int // bytes of encoded matches a worker keeps before writing a run; tests lower it
}

// Match is one record that matched one rule.
type Match struct {
	Rule     int    // index into ReplayResult.Rules
	File     string // the file the record came from
	Position int    // line number (JSON lines) or record number in {"Records":[...]} (from 1)
	Summary

	fileIndex int // order of the file among those read, to break ties in time
}

// Problem is an input that could not be read, a record that could not be used, or JSON of no
// shape replay knows. Other files and other records of the same file are still replayed.
type Problem struct {
	File    string
	Line    int // line number in a JSON-lines file, 0 if none
	Item    int // record number in a document's array ({"Records":[...]}, [...]), 0 if none
	Err     error
	Unknown bool // JSON that is no CloudTrail record or wrapper of one, rather than broken input
}

func (p Problem) Error() string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %v", p.File, p.Line, p.Err)
	case p.Item > 0:
		return fmt.Sprintf("%s: record %d: %v", p.File, p.Item, p.Err)
	}
	return fmt.Sprintf("%s: %v", p.File, p.Err)
}

// Skipped is a file passed over on purpose: a CloudTrail digest file, or a file that is not a log
// at all (a README) met while walking a directory.
type Skipped struct{ File, Reason string }

// Tally counts what a run read, for its summary line.
type Tally struct {
	ByShape    map[string]int // records judged, by the shape they came in
	Insights   int            // CloudTrail Insights events: recognised and shown, not judged
	Digests    int            // CloudTrail digest files
	NotLogs    int            // files met in a directory that are not logs
	OutOfScope int            // records outside --account or --region
	Unknown    int            // JSON values of no known shape, each a Problem
}

// ReplayResult is what replay found.
type ReplayResult struct {
	Rules       []Rule
	Matches     []Match      // in time order (ties in file order); empty when OnMatch was set
	Evaluations []Evaluation // per rule, what its alarm would have done
	Problems    []Problem    // in file order
	Files       int          // files read
	Records     int          // records judged by the rules
	Skipped     []Skipped    // files passed over on purpose
	Insights    []Insight    // in time order
	Tally       Tally
	Notes       []string // how the run went, when not as usual (matches kept in memory)
	counts      []int
	span        timeSpan // of the records judged: First, Last
}

// Replay reads CloudTrail logs and app logs from files and directories (walked recursively), in
// the forms users have them, told apart by content: {"Records":[...]} files as CloudTrail writes
// them to S3, JSON arrays of records, single records, JSON lines (CloudWatch Logs exports with a
// timestamp before each line; the app's own log lines), EventBridge events, the output of
// `aws cloudtrail lookup-events`, `aws logs filter-log-events` (JSON or text) and CloudTrail Lake
// queries; each gzip'd or not, told by the gzip magic bytes. Insights events and digest files are
// counted, not judged. Records stream through one at a time: memory does not grow with a file.
// It matches every record against the rules and evaluates each rule's alarm over the matches.
func Replay(paths []string, opt ReplayOptions) *ReplayResult {
	files, problems := collectFiles(paths)
	res := replayFiles(files, opt)
	res.Problems = append(problems, res.Problems...)
	return res
}

// ReplayData replays log data held in memory, in any form Replay reads from a file; name stands
// for the file in matches and problems.
func ReplayData(name string, data []byte, opt ReplayOptions) *ReplayResult {
	return replayFiles([]inputFile{{path: name, named: true, inMemory: true, data: data}}, opt)
}

func replayFiles(files []inputFile, opt ReplayOptions) *ReplayResult {
	rules := opt.Rules
	if rules == nil {
		rules = Default()
	}
	res := &ReplayResult{Rules: rules, counts: make([]int, len(rules)), Tally: Tally{ByShape: map[string]int{}}}
	opt.Progress.begin(files)
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(files)))
	outs := make([]fileResult, len(files))
	logs := make([]*matchLog, workers)
	served := make([]*servedLines, workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range workers {
		logs[w] = newMatchLog(opt.spillAt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fr := newFileReader(NewMatcher(rules, opt.Params), &opt, logs[w])
			served[w] = fr.served
			for i := range next {
				outs[i] = fr.read(files[i], i)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, l := range logs {
			l.close()
		}
	}()

	for i, out := range outs {
		res.Files++
		res.Records += out.records
		res.Problems = append(res.Problems, out.problems...)
		for sh := range numShapes {
			if n := out.byShape[sh]; n > 0 {
				res.Tally.ByShape[sh.String()] += n
			}
		}
		for r, n := range out.counts {
			res.counts[r] += n
		}
		res.Insights = append(res.Insights, out.insights...)
		res.Tally.Insights += len(out.insights)
		res.Tally.OutOfScope += out.outOfScope
		res.Tally.Unknown += out.unknown
		res.Tally.Digests += out.digests
		res.span.merge(out.span)
		if out.notLog {
			res.Tally.NotLogs++
		}
		if out.skipped != "" {
			res.Skipped = append(res.Skipped, Skipped{File: files[i].path, Reason: out.skipped})
		}
	}
	slices.SortStableFunc(res.Insights, func(a, b Insight) int { return a.EventTime.Compare(b.EventTime) })

	onMatch := opt.OnMatch
	if onMatch == nil {
		total := 0
		for _, n := range res.counts {
			total += n
		}
		res.Matches = make([]Match, 0, total)
		onMatch = func(m Match) { res.Matches = append(res.Matches, m) }
	}
	// The alarm evaluation's times, taken from the merge: in time order already, so that
	// Evaluate's sort has nothing to do.
	times := make([][]time.Time, len(rules))
	for i, n := range res.counts {
		times[i] = make([]time.Time, 0, n)
	}
	for _, l := range logs {
		if l.err != nil {
			res.Notes = append(res.Notes, l.err.Error())
		}
	}
	if n := res.Tally.ByShape[shapeLake.String()]; n > 0 {
		// Lake returns the columns a query selects, nested ones flattened to their last name or as
		// text: a rule on userIdentity, requestParameters or resources has nothing to read there.
		res.Notes = append(res.Notes, fmt.Sprintf("%d CloudTrail Lake rows were judged on their top-level columns only "+
			"(eventTime, eventSource, eventName, errorCode, awsRegion, recipientAccountId...): the app rules and "+
			"key scopes, which read userIdentity, requestParameters and resources, cannot match them", n))
	}
	seen, joins := joinedServed(rules, served)
	merged := func(m Match) {
		if o := joins[m.Rule]; o != nil {
			// A served line vouches for its Decrypt wherever it falls; of the rest, keep those the
			// app log covers (their line would be there), and leave the others unjudged.
			switch _, ok := seen.ids[m.RequestID]; {
			case ok:
				o.matched++
				return
			case !seen.covers(m.EventTime):
				o.unjudged++
				return
			}
			o.unmatched++
		}
		times[m.Rule] = append(times[m.Rule], m.EventTime)
		onMatch(m)
	}
	if err := mergeMatches(logs, files, merged); err != nil {
		res.Problems = append(res.Problems, Problem{File: os.TempDir(), Err: fmt.Errorf("reading back the matches: %w", err)})
	}
	for i, o := range joins {
		if o != nil {
			res.counts[i] = o.unmatched
			res.Notes = append(res.Notes, o.notes(rules[i], seen)...)
		}
	}

	res.Evaluations = make([]Evaluation, len(rules))
	for i, r := range rules {
		res.Evaluations[i] = Evaluate(r.Firing, times[i])
		times[i] = nil
	}
	return res
}

type inputFile struct {
	path     string
	named    bool // given by the user rather than found in a directory
	inMemory bool
	data     []byte // the contents, when held in memory rather than on disk
}

// collectFiles expands directories into the regular files beneath them, sorted, and reports
// paths that cannot be read.
func collectFiles(paths []string) ([]inputFile, []Problem) {
	var files []inputFile
	var problems []Problem
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			problems = append(problems, Problem{File: p, Err: unwrapPathError(err)})
			continue
		}
		if !info.IsDir() {
			files = append(files, inputFile{path: p, named: true})
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				problems = append(problems, Problem{File: path, Err: unwrapPathError(err)})
				return nil
			}
			if d.Type().IsRegular() {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			problems = append(problems, Problem{File: p, Err: err})
		}
		slices.Sort(found)
		for _, f := range found {
			files = append(files, inputFile{path: f})
		}
	}
	return files, problems
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// joinedServed merges the workers' served lines and makes an outcome per joining rule (nil for
// the others).
func joinedServed(rules []Rule, served []*servedLines) (*servedLines, []*joinOutcome) {
	joins := make([]*joinOutcome, len(rules))
	var seen *servedLines
	for i, r := range rules {
		if r.join != nil {
			joins[i] = &joinOutcome{}
			seen = newServedLines(r.join.event)
		}
	}
	if seen != nil {
		for _, s := range served {
			if s != nil {
				seen.merge(s)
			}
		}
	}
	return seen, joins
}

// Counts returns, per rule, how many records matched; for a joining rule, its unmatched records.
func (res *ReplayResult) Counts() []int { return slices.Clone(res.counts) }

// SortProblems orders problems by file, keeping each file's own order.
func (res *ReplayResult) SortProblems() {
	slices.SortStableFunc(res.Problems, func(a, b Problem) int { return cmp.Compare(a.File, b.File) })
}
