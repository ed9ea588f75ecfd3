// Command kmswatch works with kmswatch's detection rules offline: it lists them as deployed,
// replays CloudTrail and app logs through them, and rehearses the lab's alarm loop and the responder's
// loop in-process.
// release and status work on a deployed stack's responder, through the default AWS configuration.
//
// Exit codes: 0 ok; 1 findings (an alarm or immediate rule would have fired) or failures a script
// must see (unreadable files); 2 bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

const (
	exitOK       = 0
	exitFindings = 1 // also: failures a script must see
	exitUsage    = 2
)

const usage = `kmswatch: detection rules for KMS activity, offline.

Usage:
  kmswatch rules    [--role-arn ARN] [--app-key-arn ARN] [--key-arn KEY]... [--stack-config FILE] [--json | --format athena|insights]
  kmswatch replay   [--role-arn ARN] [--app-key-arn ARN] [--key-arn KEY]... [--account ID] [--region R] [--period D] [--rule ID]...
                    [--stack-config FILE] [--set NAME=VALUE]... [--limit N] [--json] [--html FILE] FILE|DIR...
  kmswatch tune     [--role-arn ARN] [--app-key-arn ARN] [--key-arn KEY]... [--account ID] [--region R] [--rule ID]...
                    [--stack-config FILE] [--set NAME=VALUE]... [--json] FILE|DIR...
  kmswatch rehearse [--scenario lab|exfiltration|key-deletion] [--wrong-keys N] [--delivery-delay D] [--metric-delay D] [--json]
  kmswatch status   --table NAME [--all] [--json]
  kmswatch release  --table NAME [--force] [--early] [--json] RECORD_ID
  kmswatch version
  kmswatch help [COMMAND]

Commands:
  rules     list the rules with their CloudWatch and EventBridge patterns and thresholds, or
            their Athena and Logs Insights hunting queries
  replay    run CloudTrail log files (and the app's JSON logs) through the rules; --html draws them
  tune      suggest thresholds from history: counts per period, alarms per candidate, config lines
  rehearse  run a scenario in one process: the lab's (app, KMS double, rules, alarm, notification),
            or the responder's loop (exfiltration, key-deletion) on the AWS double
  status    show what the stack's responder has contained now (reads AWS: IAM, KMS, DynamoDB)
  release   undo a containment from its record (NAME: the stack output responderTable)
  version   print kmswatch's version (the commit it was built from)

Exit status: 0 ok, 1 findings or unreadable input, 2 bad usage.
Run 'kmswatch COMMAND --help' for a command's flags.
`

type command struct {
	name string
	run  func(args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"rules", runRules},
	{"replay", runReplay},
	{"tune", runTune},
	{"rehearse", runRehearse},
	{"status", runStatus},
	{"release", runRelease},
	{"version", runVersion},
}

// version is set at build time (make build: -ldflags "-X main.version=..."); otherwise the
// commit Go stamped into the binary is used.
var version = ""

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] != "--help" && args[0] != "-h" {
		return usageError(stderr, "version", "unexpected argument %q", args[0])
	}
	fmt.Fprintf(stdout, "kmswatch %s (%s)\n", buildVersion(), runtime.Version())
	return exitOK
}

// buildVersion is the ldflags version, else the VCS revision (with "-dirty" for a modified
// tree), else "(devel)" as `go run` builds carry no VCS stamp.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		name, args = args[1], []string{args[1], "--help"}
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "kmswatch: unknown command %q\n\n%s", name, usage)
	return exitUsage
}

// parseFlags parses flags that may come before, between or after the positional arguments.
// It returns the positional arguments, or an exit code when parsing ends the command.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int, bool) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, exitOK, false
		}
		if err != nil {
			// The flag package spells flags with one dash; our help and README use two.
			msg := strings.Replace(err.Error(), ": -", ": --", 1)
			fmt.Fprintf(stderr, "kmswatch %s: %s\n", fs.Name(), msg)
			fmt.Fprintf(stderr, "Run 'kmswatch %s --help' for usage.\n", fs.Name())
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, exitOK, true
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), exitOK, true
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// usageFunc prints a command's synopsis and its flags.
func usageFunc(fs *flag.FlagSet, synopsis, about string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(about))
		printFlags(out, fs)
	}
}

// printFlags is flag.PrintDefaults with flags spelled --name, as the synopses and the README
// write them (Go's flag package accepts both).
func printFlags(out io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(out, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "false", "0", "0s", "[]":
		default:
			fmt.Fprintf(out, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(out)
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func usageError(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "kmswatch %s: %s\n", cmd, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run 'kmswatch %s --help' for usage.\n", cmd)
	return exitUsage
}
