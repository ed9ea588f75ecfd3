package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

func render(t testing.TB, r Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The page for the known corpus, byte for byte: a change to the markup shows in review.
func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T) Report
	}{
		{"known-corpus", func(t *testing.T) Report { return replayKnown(t) }},
		{"no-records", func(*testing.T) Report {
			res := rules.ReplayData("empty.json", []byte(`{"Records":[]}`), rules.ReplayOptions{Rules: replayedRules()})
			return Report{Result: res, Inputs: []string{"empty.json"}, Firing: "the rules as shipped",
				Notes: []string{"app-kms-errors, app-decrypt-volume skipped: they look for the app's task role; pass --role-arn"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.make(t))
			path := filepath.Join("testdata", tc.name+".html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./infra/report/ -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the page rendered now; if the change is meant, run go test ./infra/report/ -update and review the diff", path)
			}
		})
	}
}

// What a person reads off the known corpus's page, asserted on the markup itself.
func TestReportShowsTheKnownCorpus(t *testing.T) {
	page := render(t, replayKnown(t))
	for _, want := range []string{
		// the hour, every rule, and the firing's source
		"26 records from 1 file, 2026-11-24 10:00 to 2026-11-24 10:59:59 UTC",
		`id="rule-app-kms-errors"`, `id="rule-app-decrypt-denied"`, `id="rule-app-decrypt-volume"`,
		`id="rule-kms-key-disable-or-delete"`, `id="rule-kms-key-policy-change"`, `id="rule-app-key-decrypt-rate"`,
		`id="rule-app-decrypt-unmatched"`, "Firing: the rules as shipped.",
		// the exact counts behind the bars
		"1 min from 2026-11-24 10:30 UTC: 8, breaches (&gt;= 2)",
		"1 min from 2026-11-24 10:05 UTC: 1</title>",
		// app-kms-errors breaches at 10:12 and 10:30: two runs, two alarms
		"<tr><td>2026-11-24 10:12</td><td>2026-11-24 10:13</td><td class=\"n\">1</td><td class=\"n\">3</td>",
		"<tr><td>2026-11-24 10:30</td><td>2026-11-24 10:31</td><td class=\"n\">1</td><td class=\"n\">8</td>",
		// who was behind the matches
		"<code>arn:aws:sts::111122223333:assumed-role/pattern1-application-Pattern1ECSTaskRole/ecs-task-4f0c2a</code>",
		"<code>arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab</code>",
		"<code>198.51.100.7</code>",
		// and nothing that could reach the network
		`content="default-src 'none'; style-src 'unsafe-inline'"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n, want := strings.Count(page, `<svg class="chart"`), len(replayedRules()); n != want || want != 7 {
		t.Errorf("%d charts, want one per rule replayed (%d of the 8)", n, want)
	}
	// nothing that loads: no script, no image, no style sheet, no link off the page
	for _, banned := range []string{"<script", "<img", "<link", "<iframe", "<object", "@import", "url(", "src=", `href="http`} {
		if strings.Contains(page, banned) {
			t.Errorf("page holds %q: it must open with nothing to fetch", banned)
		}
	}
}

// A year of five-minute windows, 525,600 of them, draws at most plotWidth bars, and the one
// spike in it is still the tallest bar, with its exact count in the tooltip.
func TestAYearStaysDrawableAndKeepsItsSpike(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := rules.Series{Period: 5 * time.Minute, Start: start, Len: 365 * 24 * 60, Threshold: 1000}
	for k := 0; k < s.Len; k += 7 {
		s.Events = append(s.Events, rules.PeriodSum{Start: s.WindowStart(k), Count: 10 + k%13})
	}
	spike := 200_003 // inside a bucket of some 600 windows
	s.Events = append(s.Events, rules.PeriodSum{})
	for i := len(s.Events) - 1; i >= 0; i-- { // keep time order: put the spike in place
		if i == 0 || s.Index(s.Events[i-1].Start) < spike {
			s.Events[i] = rules.PeriodSum{Start: s.WindowStart(spike), Count: 4321, Breaching: true}
			break
		}
		s.Events[i] = s.Events[i-1]
	}
	c := buildChart(s, nil)
	if len(c.Bars) > plotWidth || len(c.Bars) < plotWidth/2 {
		t.Fatalf("%d bars for a year: want at most one per unit of the plot's %d", len(c.Bars), plotWidth)
	}
	tallest := c.Bars[0]
	for _, b := range c.Bars {
		if b.H > tallest.H {
			tallest = b
		}
	}
	if !tallest.Breach || !strings.Contains(tallest.Title, "max 4,321 in the 5 min from "+clock(s.WindowStart(spike))) {
		t.Errorf("tallest bar %+v: want the spike, breaching, with its exact count and window", tallest)
	}
	if c.YMax != 5000 || len(c.BreachMarks) != 1 {
		t.Errorf("y axis to %d, %d breach marks: want 5000 and the one", c.YMax, len(c.BreachMarks))
	}
	if len(c.XTicks) == 0 || len(c.XTicks) > maxTimeTicks+1 || c.XTicks[0].Label != "Jan 2026" || c.XTicks[1].Label != "Mar 2026" {
		t.Errorf("time ticks %+v", c.XTicks)
	}
}

func TestTimeTicksOverYears(t *testing.T) {
	start := time.Date(2014, 11, 4, 0, 52, 0, 0, time.UTC)
	span := time.Date(2022, 11, 24, 18, 57, 0, 0, time.UTC).Sub(start)
	var labels []string
	for _, tick := range timeTicks(start, span, func(time.Time) float64 { return 0 }) {
		labels = append(labels, tick.Label)
	}
	want := "Jan 2015 Jan 2016 Jan 2017 Jan 2018 Jan 2019 Jan 2020 Jan 2021 Jan 2022" // Januaries, not Novembers
	if got := strings.Join(labels, " "); got != want {
		t.Errorf("ticks over eight years: %s, want %s", got, want)
	}
}

func TestAggregateCoversEveryWindowOnce(t *testing.T) {
	for _, l := range []int{1, 2, 879, 880, 881, 1000, 12345, 525600} {
		s := rules.Series{Len: l, Period: time.Minute}
		bs := aggregate(s, plotWidth)
		if bs[0].from != 0 || bs[len(bs)-1].to != l || len(bs) != min(l, plotWidth) {
			t.Fatalf("len %d: buckets from %d to %d, %d of them", l, bs[0].from, bs[len(bs)-1].to, len(bs))
		}
		for i := 1; i < len(bs); i++ {
			if bs[i].from != bs[i-1].to || bs[i].to <= bs[i].from {
				t.Fatalf("len %d: bucket %d is [%d, %d) after [%d, %d)", l, i, bs[i].from, bs[i].to, bs[i-1].from, bs[i-1].to)
			}
		}
		// the bucket a window falls in is the one whose range holds it
		for _, k := range []int{0, l / 3, l - 1} {
			b := int(int64(k) * int64(len(bs)) / int64(l))
			if k < bs[b].from || k >= bs[b].to {
				t.Errorf("len %d: window %d falls in bucket %d = [%d, %d)", l, k, b, bs[b].from, bs[b].to)
			}
		}
	}
}

func TestAxisNumbers(t *testing.T) {
	for v, want := range map[float64]int{0: 1, 1: 1, 1.5: 2, 2: 2, 3: 5, 6: 10, 8: 10, 11: 20, 1000: 1000, 1001: 2000, 4321: 5000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%g) = %d, want %d", v, got, want)
		}
	}
	for top, want := range map[int]string{1: "[0 1]", 2: "[0 1 2]", 10: "[0 2 4 6 8 10]", 20: "[0 4 8 12 16 20]", 1000: "[0 200 400 600 800 1000]"} {
		if got := fmt.Sprint(yTicks(top)); got != want {
			t.Errorf("yTicks(%d) = %s, want %s", top, got, want)
		}
	}
	if got := number(1234567); got != "1,234,567" {
		t.Errorf("number = %q", got)
	}
}

func TestContributorsBoundTheirMemory(t *testing.T) {
	var c Contributors
	for i := range maxDistinct + 10 {
		c.Add(rules.Match{Rule: 1, Summary: rules.Summary{SourceIPAddress: fmt.Sprintf("addr-%d", i)}})
	}
	c.Add(rules.Match{Rule: 1, Summary: rules.Summary{SourceIPAddress: "addr-0"}})
	top := c.Sources(1, 3)
	if top.Distinct != maxDistinct || top.Other != 10 || top.Ranked[0] != (Ranked{"addr-0", 2}) {
		t.Errorf("top %+v: want %d distinct, 10 counted together, the repeated value first", top.Ranked, maxDistinct)
	}
	if none := c.Principals(1, 3); none.None != maxDistinct+11 || len(none.Ranked) != 0 {
		t.Errorf("principals %+v: every match had none", none)
	}
	if empty := c.Keys(4, 3); len(empty.Ranked) != 0 || empty.Distinct != 0 {
		t.Errorf("a rule with no matches: %+v", empty)
	}
}
