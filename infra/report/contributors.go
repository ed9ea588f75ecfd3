package report

import (
	"cmp"
	"slices"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// Contributors counts, per rule, who and what was behind the matches: principals, source
// addresses and keys. Add it as ReplayOptions.OnMatch (or call it from there), so that the
// matches themselves need not be kept.
type Contributors struct {
	rules []ruleTally
}

type ruleTally struct {
	principals, sources, keys tally
}

// maxDistinct bounds the values counted one by one per rule and field, so that memory stays
// flat on a long history with many addresses; values first seen past it are counted together.
const maxDistinct = 50_000

// tally counts the values of one field.
type tally struct {
	counts map[string]int
	other  int // matches whose value came after maxDistinct others
	none   int // matches without a value (an app log line has no principal)
}

func (t *tally) add(v string) {
	switch {
	case v == "":
		t.none++
	case t.counts[v] > 0 || len(t.counts) < maxDistinct:
		if t.counts == nil {
			t.counts = map[string]int{}
		}
		t.counts[v]++
	default:
		t.other++
	}
}

// Add counts one match.
func (c *Contributors) Add(m rules.Match) {
	for len(c.rules) <= m.Rule {
		c.rules = append(c.rules, ruleTally{})
	}
	r := &c.rules[m.Rule]
	r.principals.add(m.Principal)
	r.sources.add(m.SourceIPAddress)
	r.keys.add(m.Key)
}

// Ranked is one value and how many matches had it.
type Ranked struct {
	Value string
	Count int
}

// Top is the n most frequent values of one field, most frequent first (ties by value), with
// how many distinct values there were and how many matches were counted together or had none.
type Top struct {
	Ranked   []Ranked
	Distinct int
	Other    int // matches with a value first seen after maxDistinct others
	None     int
}

func (t tally) top(n int) Top {
	out := Top{Distinct: len(t.counts), Other: t.other, None: t.none}
	for v, k := range t.counts {
		out.Ranked = append(out.Ranked, Ranked{v, k})
	}
	slices.SortFunc(out.Ranked, func(a, b Ranked) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
	if len(out.Ranked) > n {
		out.Ranked = out.Ranked[:n]
	}
	return out
}

// Principals, Sources and Keys return rule i's top n values of each field.
func (c *Contributors) Principals(i, n int) Top { return c.tally(i).principals.top(n) }

// Sources: see Principals.
func (c *Contributors) Sources(i, n int) Top { return c.tally(i).sources.top(n) }

// Keys: see Principals.
func (c *Contributors) Keys(i, n int) Top { return c.tally(i).keys.top(n) }

func (c *Contributors) tally(i int) ruleTally {
	if c == nil || i >= len(c.rules) {
		return ruleTally{}
	}
	return c.rules[i]
}
