package report

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The report as a person sees it: the known corpus's page opened in headless Chromium, and the
// rendered geometry measured. Without Chromium the test fails under CI (which installs it) and
// elsewhere skips; make test prints a line saying so, as go test hides skips.

// chromiumNames are the executables looked for on PATH; KMSWATCH_CHROMIUM names another.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KMSWATCH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const install = "apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatalf("the HTML report's browser test needs Chromium (%s on PATH, or KMSWATCH_CHROMIUM): %s", strings.Join(chromiumNames, ", "), install)
	}
	t.Skipf("Chromium not installed: the HTML report was not checked in a browser (%s)", install)
	return ""
}

// measured is what the page's script reads off one rule's rendered chart, in CSS pixels.
type measured struct {
	Rule, Top  string // the rule, and the y axis's top label
	Chart      bool
	Plot       box
	Threshold  box
	Bars       []bar
	Marks      []box // breach marks under the axis
	AlarmBands []box
}

type box struct{ X, Y, W, H float64 }

type bar struct {
	box
	Breach bool
	Fill   string
	Title  string
}

const measure = `[...document.querySelectorAll('section.rule')].map(sec => {
  const r = el => { const b = el.getBoundingClientRect(); return {X: b.x, Y: b.y, W: b.width, H: b.height}; };
  const svg = sec.querySelector('svg.chart');
  if (!svg) return {Rule: sec.dataset.rule, Chart: false};
  const labels = [...svg.querySelectorAll('text.axis-label.y')].map(t => t.textContent);
  return {
    Rule: sec.dataset.rule, Chart: true, Top: labels[labels.length - 1],
    Plot: r(svg.querySelector('rect.plot')), Threshold: r(svg.querySelector('line.threshold')),
    Bars: [...svg.querySelectorAll('rect.bar')].map(b => ({...r(b), Breach: b.classList.contains('breach'),
      Fill: getComputedStyle(b).fill, Title: b.previousElementSibling.querySelector('title').textContent})),
    Marks: [...svg.querySelectorAll('rect.breach-mark')].map(r),
    AlarmBands: [...svg.querySelectorAll('rect.alarm-band')].map(r),
  };
})`

// browsed is what the browser did with the page.
type browsed struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func (b *browsed) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			b.errors = append(b.errors, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		b.errors = append(b.errors, "exception: "+e.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			b.errors = append(b.errors, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	}
}

// openInChromium renders the page, returns the charts' measurements and a PNG of the whole page.
func openInChromium(t *testing.T, page string) ([]measured, *browsed, []byte) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findChromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var b browsed
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithListener(b.listen))
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("opening %s in Chromium: %v", page, err)
	}
	charts, err := chromedp.Run(tab, chromedp.Evaluate[[]measured](measure))
	if err != nil {
		t.Fatalf("measuring the page: %v", err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return charts, &b, png
}

// want says what the known corpus (corpus_test.go) must look like, rule by rule: the y axis's
// top, the threshold's height as a share of the plot, and the windows (of how many) that breach.
var want = map[string]struct {
	top       string
	threshold float64 // threshold / top
	breaching []int   // window indexes
	windows   int
}{
	// one-minute windows from 10:00: errors breach at 10:12 (3) and 10:30 (8); 10:05 (1) does not
	"app-kms-errors": {"10", 0.2, []int{12, 30}, 60},
	// five-minute windows from 09:56: those starting 10:16 to 10:20 hold the six at 10:20
	"app-decrypt-denied":        {"10", 0.5, []int{20, 21, 22, 23, 24}, 64},
	"kms-key-disable-or-delete": {"2", 0.5, []int{40, 41, 42, 43, 44}, 64}, // DisableKey at 10:40
	"app-decrypt-volume":        {"2,000", 0.5, nil, 64},
	"kms-key-policy-change":     {"2", 0.5, []int{45, 46}, 60},
	// three successful decrypts of the app key at 10:50, far below 200 a minute
	"app-key-decrypt-rate": {"500", 0.4, nil, 60},
	// no Decrypt judged: the app's log does not cover 10:50
	"app-decrypt-unmatched": {"2", 0.5, nil, 60},
}

const (
	breachRed = "rgb(211, 47, 47)"
	countBlue = "rgb(74, 120, 181)"
)

func TestReportInABrowser(t *testing.T) {
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, []byte(render(t, replayKnown(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	charts, b, png := openInChromium(t, page)
	keepScreenshot(t, png)

	if len(charts) != len(want) {
		t.Fatalf("%d rule sections, want one per rule (%d)", len(charts), len(want))
	}
	for _, c := range charts {
		w, ok := want[c.Rule]
		if !ok || !c.Chart {
			t.Errorf("section %q: chart %v; want one chart for each shipped rule", c.Rule, c.Chart)
			continue
		}
		near := func(got, want float64) bool { return math.Abs(got-want) <= 1.5 } // CSS pixels
		if c.Top != w.top {
			t.Errorf("%s: y axis tops at %q, want %s", c.Rule, c.Top, w.top)
		}
		if at := c.Plot.Y + c.Plot.H*(1-w.threshold); !near(c.Threshold.Y, at) {
			t.Errorf("%s: threshold line at y=%.1f, want %.1f (%.0f%% up a plot %.1f px tall)", c.Rule, c.Threshold.Y, at, 100*w.threshold, c.Plot.H)
		}
		var breaching []int
		for _, bar := range c.Bars {
			k := int(math.Round((bar.X - c.Plot.X) / c.Plot.W * float64(w.windows)))
			if !near(bar.X, c.Plot.X+c.Plot.W*float64(k)/float64(w.windows)) {
				t.Errorf("%s: a bar at x=%.1f is on no window's edge", c.Rule, bar.X)
			}
			if bar.Breach {
				breaching = append(breaching, k)
			}
			wantFill := countBlue
			if bar.Breach {
				wantFill = breachRed
			}
			if bar.Fill != wantFill || bar.Breach != strings.Contains(bar.Title, "breaches") {
				t.Errorf("%s: bar %d drawn %s, breach %v, tooltip %q", c.Rule, k, bar.Fill, bar.Breach, bar.Title)
			}
		}
		if fmt.Sprint(breaching) != fmt.Sprint(w.breaching) {
			t.Errorf("%s: breaching windows %v, want %v", c.Rule, breaching, w.breaching)
		}
		if len(w.breaching) > 0 {
			first, last := w.breaching[0], w.breaching[len(w.breaching)-1]
			if len(c.Marks) == 0 || !near(c.Marks[0].X, c.Plot.X+c.Plot.W*float64(first)/float64(w.windows)) ||
				!near(c.Marks[len(c.Marks)-1].X+c.Marks[len(c.Marks)-1].W, c.Plot.X+c.Plot.W*float64(last+1)/float64(w.windows)) {
				t.Errorf("%s: breach marks %+v do not span windows %d to %d", c.Rule, c.Marks, first, last)
			}
		}
	}
	// the tallest bar: app-kms-errors' 8 at 10:30, eight tenths up its plot
	for _, c := range charts {
		if c.Rule != "app-kms-errors" {
			continue
		}
		for _, bar := range c.Bars {
			if strings.Contains(bar.Title, "10:30 UTC: 8,") && math.Abs(bar.H-0.8*c.Plot.H) > 1.5 {
				t.Errorf("the count of 8 is %.1f px tall on a %.1f px plot, want 80%%", bar.H, c.Plot.H)
			}
		}
		if len(c.AlarmBands) != 1 {
			t.Errorf("app-kms-errors: %d stretches in ALARM drawn, want 1 (10:13 to 10:52)", len(c.AlarmBands))
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("console errors: %q", b.errors)
	}
	for _, u := range b.requests {
		if u != "file://"+page {
			t.Errorf("the page requested %s: it must fetch nothing", u)
		}
	}
}

// keepScreenshot writes the page's PNG as a test artifact (go test -artifacts keeps it under
// the output directory) and, when KMSWATCH_REPORT_SCREENSHOT names a file, there too.
func keepScreenshot(t *testing.T, png []byte) {
	t.Helper()
	paths := []string{filepath.Join(t.ArtifactDir(), "report.png")}
	if p := os.Getenv("KMSWATCH_REPORT_SCREENSHOT"); p != "" {
		paths = append(paths, p)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		t.Logf("screenshot of the report: %s", p)
	}
}

// A year of five-minute windows opens as fast as an hour, and its one breach is drawn.
func TestAYearInABrowser(t *testing.T) {
	page := filepath.Join(t.TempDir(), "year.html")
	if err := os.WriteFile(page, []byte(render(t, aYear(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	charts, b, _ := openInChromium(t, page)
	if len(charts) != 1 || !charts[0].Chart {
		t.Fatalf("charts %+v: want the one rule's", charts)
	}
	c := charts[0]
	var breaching []bar
	for _, bar := range c.Bars {
		if bar.Breach {
			breaching = append(breaching, bar)
		}
	}
	if len(c.Bars) > plotWidth || len(breaching) != 1 || !strings.Contains(breaching[0].Title, "max 41") || c.Top != "50" {
		t.Errorf("%d bars, breaching %+v, axis to %s: want at most %d, the burst, 50", len(c.Bars), breaching, c.Top, plotWidth)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 || len(b.requests) != 1 {
		t.Errorf("errors %q, requests %q", b.errors, b.requests)
	}
}

// The checks above can fail: a page that fetches something and logs an error is seen doing both.
func TestTheBrowserCheckSeesRequestsAndErrors(t *testing.T) {
	page := filepath.Join(t.TempDir(), "bad.html")
	bad := `<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png"><script>console.error("boom")</script></body></html>`
	if err := os.WriteFile(page, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, b, _ := openInChromium(t, page)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Contains(b.requests, "http://127.0.0.1:9/pixel.png") {
		t.Errorf("requests seen %q: the image's was missed", b.requests)
	}
	if !slices.ContainsFunc(b.errors, func(e string) bool { return strings.Contains(e, "boom") }) {
		t.Errorf("errors seen %q: console.error was missed", b.errors)
	}
}
