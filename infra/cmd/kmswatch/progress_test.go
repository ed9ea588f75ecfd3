package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// asCLI makes the test binary stand in for kmswatch, for the tests that need a real process
// with a real terminal: KMSWATCH_TEST_AS_CLI holds the arguments, separated by newlines.
const asCLI = "KMSWATCH_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(asCLI); ok {
		os.Exit(run(strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestProgressText(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       progressSnapshot
		elapsed time.Duration
		want    string
	}{
		{"before the inputs are walked", progressSnapshot{}, 0, "looking for log files"},
		{"at the start", progressSnapshot{files: 100, bytes: 12_000_000}, 0,
			"0/100 files, 0 records, time left not known yet"},
		{"a quarter of the bytes in a second", progressSnapshot{files: 100, filesDone: 24, bytes: 12_000_000, bytesRead: 3_000_000, records: 48_000}, time.Second,
			"24/100 files, 48,000 records (48,000/s), about 3s left"},
		{"inside one large file", progressSnapshot{files: 1, bytes: 500 << 20, bytesRead: 50 << 20, records: 45_300}, 4 * time.Second,
			"0/1 files, 45,300 records (11,325/s), about 36s left"},
		{"an hour to go", progressSnapshot{files: 9000, filesDone: 90, bytes: 100, bytesRead: 1, records: 1_000_000}, 40 * time.Second,
			"90/9,000 files, 1,000,000 records (25,000/s), about 1h6m left"},
		{"every file read", progressSnapshot{files: 3, filesDone: 3, bytes: 30, bytesRead: 30, records: 9}, 2 * time.Second,
			"3/3 files, 9 records (4/s), all read: evaluating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressText(tc.s, tc.elapsed); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// The line is redrawn in place, padded over a longer one, and blanked at the end.
func TestProgressLineRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // the clock stands still: no rate yet
	l := newProgressLine(&out, "replay", func() time.Time { return now })
	l.counts.Files.Store(2)
	l.counts.Bytes.Store(1000)
	l.draw()
	first := "kmswatch replay: 0/2 files, 0 records, time left not known yet"
	l.counts.FilesDone.Store(2)
	l.counts.BytesRead.Store(1000)
	l.counts.Records.Store(4)
	l.draw()
	second := "kmswatch replay: 2/2 files, 4 records, all read: evaluating"
	l.stop()
	if len(second) >= len(first) {
		t.Fatal("the second line must be the shorter, to see it padded")
	}
	want := "\r" + first + "\r" + second + strings.Repeat(" ", len(first)-len(second)) + "\r" + strings.Repeat(" ", len(second)) + "\r"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}

func TestNoProgressWhenStderrIsNoTerminal(t *testing.T) {
	for _, cmd := range [][]string{
		{"replay", "--role-arn", labRole, samplesDir},
		{"tune", "--role-arn", labRole, samplesDir},
	} {
		r := runCLI(cmd...)
		if strings.Contains(r.stderr, " files, ") || strings.Contains(r.stderr, "\r") {
			t.Errorf("%s, stderr a buffer: progress drawn: %q", cmd[0], r.stderr)
		}
		// a real process, stderr a pipe
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), asCLI+"="+strings.Join(cmd, "\n"))
		var stderr bytes.Buffer
		c.Stderr = &stderr
		_ = c.Run() // findings exit 1
		if strings.Contains(stderr.String(), " files, ") || strings.Contains(stderr.String(), "\r") {
			t.Errorf("%s, stderr a pipe: progress drawn: %q", cmd[0], stderr.String())
		}
	}
}

// On a terminal (a pty that script(1) opens) the line is drawn and blanked; with --json it is not.
func TestProgressOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("script(1) is needed to run kmswatch on a terminal: apt-get install -y bsdutils (%v)", err)
		}
		t.Skipf("script(1) not found (%v): the progress line is not checked on a real terminal", err)
	}
	// the first frame is drawn at once, before or after the inputs are walked; then blanked
	drawn := regexp.MustCompile(`\rkmswatch (replay|tune): (looking for log files|\d+/12 files, [\d,]+ records[^\r\n]*)\r *\r`)
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"replay", "--role-arn", labRole, samplesDir}, true},
		{[]string{"tune", "--role-arn", labRole, samplesDir}, true},
		{[]string{"replay", "--json", "--role-arn", labRole, samplesDir}, false},
		{[]string{"tune", "--json", "--role-arn", labRole, samplesDir}, false},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			c := exec.Command(script, "--quiet", "--return", "--command", os.Args[0], "/dev/null")
			c.Env = append(os.Environ(), asCLI+"="+strings.Join(tc.args, "\n"))
			out, err := c.Output()
			if c.ProcessState == nil || c.ProcessState.ExitCode() > exitFindings {
				t.Fatalf("script: %v\n%s", err, out)
			}
			if got := drawn.Match(out); got != tc.want {
				t.Errorf("progress drawn and blanked: %v, want %v; the terminal showed:\n%q", got, tc.want, out)
			}
			if !strings.Contains(string(out), "records from 12 files") && !strings.Contains(string(out), `"summary"`) {
				t.Errorf("the command's own output is missing:\n%q", out)
			}
		})
	}
}
