package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kmswatch/kmswatch/infra/report"
	"github.com/kmswatch/kmswatch/infra/rules"
)

// htmlPage is what replay --html collects while files are read: who was behind each match.
// nil when no page was asked for.
type htmlPage struct {
	path         string
	contributors report.Contributors
}

// ruleByID finds a rule among rs.
func ruleByID(rs []rules.Rule, id string) (rules.Rule, bool) {
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return rules.Rule{}, false
}

// collectForHTML hooks the page's counting into the replay's matches.
func (f *replayFlags) collectForHTML(opt *rules.ReplayOptions) *htmlPage {
	if f.htmlPath == "" {
		return nil
	}
	p := &htmlPage{path: f.htmlPath}
	opt.Span, opt.MatchKeys = true, true
	next := opt.OnMatch
	opt.OnMatch = func(m rules.Match) {
		p.contributors.Add(m)
		if next != nil {
			next(m)
		}
	}
	return p
}

// write renders the page to its file, whole or not at all: into a temporary file beside it,
// renamed over it once complete. It reports failures on stderr and returns false for them.
func (p *htmlPage) write(res *rules.ReplayResult, f *replayFlags, stderr io.Writer) bool {
	if p == nil {
		return true
	}
	period := ""
	if f.period != 0 {
		period = f.period.String()
	}
	r := report.Report{Result: res, Contributors: &p.contributors, Inputs: f.paths, Firing: f.firing.source(period)}
	r.Notes = append(append(r.Notes, f.skipped...), res.Notes...)
	if err := writeFileAtomically(p.path, func(w io.Writer) error { return report.Write(w, r) }); err != nil {
		fmt.Fprintf(stderr, "kmswatch replay: --html: %v\n", err)
		return false
	}
	fmt.Fprintf(stderr, "kmswatch replay: report written to %s\n", p.path)
	return true
}

// writeFileAtomically writes path through a temporary file in its directory, so that a failed
// write leaves any earlier file in place. The file is the user's alone (0600): a report names
// principals, addresses and keys.
func writeFileAtomically(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return unwrapPath(err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; a leftover only if something failed
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return unwrapPath(err)
	}
	return nil
}
