package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/executor"
)

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	table := fs.String("table", "", tableFlagHelp)
	all := fs.Bool("all", false, "list every record (released, dry runs, rate-limited, reported), not only what holds now")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	fs.Usage = usageFunc(fs, "kmswatch status --table NAME [--all] [--json]",
		`Shows what the responder holds now: each containment not released, with the task role's
AWSRevokeOlderSessions policy as IAM returns it today (in force, superseded, or changed outside
kmswatch), and each cancelled key deletion whose key is still Disabled. It only reads.

Exit status: 0 nothing held, 1 something contained (or a failure), 2 bad usage.`)
	positional, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if msg, ok := checkTable(*table); !ok {
		return usageError(stderr, "status", "%s", msg)
	}
	if len(positional) > 0 {
		return usageError(stderr, "status", "unexpected argument %q", positional[0])
	}
	ctx := context.Background()
	client, err := newResponderClient(ctx, *table)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch status: %v\n", err)
		return exitFindings
	}
	return status(ctx, client, *table, *all, *asJSON, stdout, stderr)
}

// status is the command once its flags are read and its clients built; rehearse calls it with
// clients aimed at the AWS double.
func status(ctx context.Context, client *executor.Executor, table string, all, asJSON bool, stdout, stderr io.Writer) int {
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if all {
		records, err := client.Store.List(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "kmswatch status: %v\n", err)
			return exitFindings
		}
		writeHistory(w, records, asJSON)
	}
	standing, err := client.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch status: %v\n", err)
		return exitFindings
	}
	writeStanding(w, table, standing, asJSON)
	if len(standing) > 0 {
		return exitFindings
	}
	return exitOK
}

type standingView struct {
	Record  string           `json:"record"`
	Status  responder.Status `json:"status"`
	Since   time.Time        `json:"since"`
	Trigger string           `json:"trigger"`
	Target  string           `json:"target"`
	InForce bool             `json:"inForce"`
	Live    string           `json:"live"`
	Note    string           `json:"note"`
	Release string           `json:"release,omitempty"`
}

func viewStanding(table string, s executor.Standing) standingView {
	v := standingView{Record: s.Record.ID, Status: s.Record.Status, Since: s.Record.Created, Trigger: s.Record.Plan.Trigger.Source(),
		InForce: s.InForce, Live: s.Live, Note: s.Note}
	for _, a := range s.Record.Plan.Actions {
		switch a.Kind {
		case responder.RevokeSessions:
			v.Target = "role " + a.RoleName
			v.Release = responder.ReleaseCommand(table, s.Record.ID)
		case responder.CancelKeyDeletion:
			v.Target = "key " + a.KeyARN
		}
	}
	return v
}

func writeStanding(w *bufio.Writer, table string, standing []executor.Standing, asJSON bool) {
	if asJSON {
		for _, s := range standing {
			out, _ := json.Marshal(viewStanding(table, s))
			fmt.Fprintln(w, string(out))
		}
		return
	}
	if len(standing) == 0 {
		fmt.Fprintf(w, "Nothing is contained: no open containment or cancelled deletion in %s.\n", table)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tSTATUS\tSINCE\tTARGET\tNOW")
	for _, s := range standing {
		v := viewStanding(table, s)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Record, v.Status, v.Since.UTC().Format(time.RFC3339), v.Target, v.Note)
	}
	tw.Flush()
	for _, s := range standing {
		if v := viewStanding(table, s); v.InForce && v.Release != "" {
			fmt.Fprintf(w, "to lift %s: %s\n", v.Record, v.Release)
		}
	}
}

func writeHistory(w *bufio.Writer, records []responder.Record, asJSON bool) {
	if asJSON {
		for _, r := range records {
			out, _ := json.Marshal(r)
			fmt.Fprintln(w, string(out))
		}
		return
	}
	if len(records) == 0 {
		fmt.Fprintln(w, "No records.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tMODE\tDECISION\tSTATUS\tWHY")
	for _, r := range records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Mode, r.Plan.Decision, r.Status, r.Plan.Why)
	}
	tw.Flush()
	fmt.Fprintln(w)
}
