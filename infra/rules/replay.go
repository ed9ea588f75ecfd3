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
	Rules   []Rule // in the order results are reported; Default() when nil
	Params  Params
	Workers int // files read in parallel; GOMAXPROCS when 0
}

// Match is one record that matched one rule.
type Match struct {
	Rule     int    // index into ReplayResult.Rules
	File     string // the file the record came from
	Position int    // line number (JSON lines) or record number in {"Records":[...]} (from 1)
	Summary

	fileIndex int // order of the file among those read, to break ties in time
}

// Problem is an input that could not be read, or a record that could not be used. Other files
// and other records of the same file are still replayed.
type Problem struct {
	File string
	Line int // line number in a JSON-lines file, 0 if none
	Item int // record number in a {"Records":[...]} file, 0 if none
	Err  error
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

// ReplayResult is what replay found.
type ReplayResult struct {
	Rules       []Rule
	Matches     []Match      // in time order (ties in file order)
	Evaluations []Evaluation // per rule, what its alarm would have done
	Problems    []Problem    // in file order
	Files       int          // files read
	Records     int          // records looked at
	Skipped     []Skipped    // files passed over on purpose
}

// Replay reads CloudTrail logs and app logs from files and directories (walked recursively), in
// any of the forms users have: {"Records":[...]} files as CloudTrail writes them to S3, single
// records, and JSON lines (CloudWatch Logs exports, possibly with a timestamp before each line;
// the app's own log lines); each gzip'd or not, told by the gzip magic bytes. It matches every
// record against the rules and evaluates each rule's alarm over the matches.
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
	res := &ReplayResult{Rules: rules}

	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(files)))
	outs := make([]fileResult, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fr := newFileReader(NewMatcher(rules, opt.Params))
			for i := range next {
				outs[i] = fr.read(files[i])
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()

	total := 0
	for _, out := range outs {
		total += len(out.matches)
	}
	res.Matches = make([]Match, 0, total)
	for i, out := range outs {
		for j := range out.matches {
			out.matches[j].fileIndex = i
		}
		res.Files++
		res.Records += out.records
		res.Problems = append(res.Problems, out.problems...)
		if out.skipped != "" {
			res.Skipped = append(res.Skipped, Skipped{File: files[i].path, Reason: out.skipped})
		}
		res.Matches = append(res.Matches, out.matches...)
	}
	slices.SortFunc(res.Matches, func(a, b Match) int {
		return cmp.Or(a.EventTime.Compare(b.EventTime), cmp.Compare(a.fileIndex, b.fileIndex), cmp.Compare(a.Position, b.Position), cmp.Compare(a.Rule, b.Rule))
	})

	times := make([][]time.Time, len(rules))
	for _, m := range res.Matches {
		times[m.Rule] = append(times[m.Rule], m.EventTime)
	}
	res.Evaluations = make([]Evaluation, len(rules))
	for i, r := range rules {
		res.Evaluations[i] = Evaluate(r.Firing, times[i])
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

// Counts returns, per rule, how many records matched.
func (res *ReplayResult) Counts() []int {
	counts := make([]int, len(res.Rules))
	for _, m := range res.Matches {
		counts[m.Rule]++
	}
	return counts
}

// SortProblems orders problems by file, keeping each file's own order.
func (res *ReplayResult) SortProblems() {
	slices.SortStableFunc(res.Problems, func(a, b Problem) int { return cmp.Compare(a.File, b.File) })
}
