package report

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// aYear replays a year of the app's decrypt_failed lines, one every five minutes (105,120 of
// them) and a burst of 40 on one day, through app-decrypt-denied: 525,600 five-minute windows,
// one a minute, every one holding a line.
func aYear(t testing.TB) Report {
	t.Helper()
	denied, _ := rules.Lookup("app-decrypt-denied")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	line := func(at time.Time) {
		fmt.Fprintf(&b, `{"time":%q,"event":"decrypt_failed","reason":"kms_refused","client_ip":"198.51.100.7"}`+"\n", at.Format(time.RFC3339))
	}
	for at := start; at.Year() == 2026; at = at.Add(5 * time.Minute) {
		line(at)
	}
	burst := time.Date(2026, 7, 14, 3, 21, 0, 0, time.UTC)
	for i := range 40 {
		line(burst.Add(time.Duration(i) * time.Second))
	}
	var c Contributors
	res := rules.ReplayData("year.jsonl", []byte(b.String()), rules.ReplayOptions{Rules: []rules.Rule{denied}, OnMatch: c.Add, Span: true, MatchKeys: true})
	if res.Records != 105_120+40 {
		t.Fatalf("%d records", res.Records)
	}
	return Report{Result: res, Contributors: &c, Firing: "the rules as shipped"}
}

// A year stays a page a browser opens at once: a few hundred kilobytes, at most one bar per
// unit of the plot, and the burst, the year's only breach, drawn and listed exactly.
func TestAYearIsAPage(t *testing.T) {
	page := render(t, aYear(t))
	if len(page) > 500_000 {
		t.Errorf("a year is %d bytes of HTML", len(page))
	}
	if n := strings.Count(page, `<rect class="bar`); n > plotWidth {
		t.Errorf("%d bars", n)
	}
	for _, want := range []string{
		"105,160</strong> records matched", "<strong>5</strong> of 525,600 windows breach", "<strong>1</strong> alarm",
		"max 41 in the 5 min from 2026-07-14 03:17", // the burst and one regular line: the first window holding both
		"<tr><td>2026-07-14 03:17</td><td>2026-07-14 03:26</td><td class=\"n\">5</td><td class=\"n\">41</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the year's page lacks %q", want)
		}
	}
}

// go test -bench Year ./infra/report/: rendering a year of windows.
func BenchmarkWriteAYear(b *testing.B) {
	r := aYear(b)
	for b.Loop() {
		if err := Write(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
