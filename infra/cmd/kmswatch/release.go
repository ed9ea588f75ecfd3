package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/executor"
)

func runRelease(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	table := fs.String("table", "", tableFlagHelp)
	force := fs.Bool("force", false, "undo even when the role's AWSRevokeOlderSessions changed since the record wrote it (overwrites that change)")
	early := fs.Bool("early", false, "lift the revocation before the role's maximum session duration has passed since its date (every session it denies, the copied credentials among them, works again at once)")
	asJSON := fs.Bool("json", false, "print the released record as JSON")
	fs.Usage = usageFunc(fs, "kmswatch release --table NAME [--force] [--early] [--json] RECORD_ID",
		`Undoes a containment from its record: removes the AWSRevokeOlderSessions policy the responder
added to the task role, or puts back the document the role had before, and nothing else. It
refuses when the policy changed since (release the later record first), when the record is a dry
run, or when it holds no revocation (a cancelled key deletion is a person's to undo: the record
names the commands).

Lifting the deny lets every session issued before its date work again, the copied credentials
among them, for as long as that session lasts. So release also refuses until the role's maximum
session duration (read with iam:GetRole) has passed since that date, the longest IAM documents for
a session assumed with AssumeRole. That wait is a floor, not a documented bound for the
credentials ECS hands a task: ECS assumes the task role for the task, and IAM says of the setting
"This setting does not limit sessions assumed by AWS services". The deny harms no fresh
credential (tasks started after the containment get sessions issued after its date), so leaving
the containment in place is the safe choice. Release only once the tasks that ran before it are
stopped and you accept the risk that a copy of their credentials works again.

The record ids are in the responder's messages and in kmswatch status.

Exit status: 0 released, 1 refused or failed, 2 bad usage.`)
	positional, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if msg, ok := checkTable(*table); !ok {
		return usageError(stderr, "release", "%s", msg)
	}
	switch {
	case len(positional) == 0:
		return usageError(stderr, "release", "no RECORD_ID given (kmswatch status --table %s lists them)", *table)
	case len(positional) > 1:
		return usageError(stderr, "release", "unexpected argument %q: one RECORD_ID at a time", positional[1])
	case !recordIDPattern.MatchString(positional[0]):
		return usageError(stderr, "release", "RECORD_ID %q: want an id such as 20261126T101458Z-0a1b2c3d", positional[0])
	}
	ctx := context.Background()
	client, err := newResponderClient(ctx, *table)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch release: %v\n", err)
		return exitFindings
	}
	return release(ctx, client, *table, positional[0], *force, *early, *asJSON, stdout, stderr)
}

// release is the command once its flags are read and its clients built; rehearse calls it with
// clients aimed at the AWS double.
func release(ctx context.Context, client *executor.Executor, table, id string, force, early, asJSON bool, stdout, stderr io.Writer) int {
	rec, err := client.Release(ctx, id, force, early)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch release: %v\n", err)
		if errors.Is(err, responder.ErrNotFound) {
			fmt.Fprintf(stderr, "kmswatch status --table %s --all lists the records.\n", table)
		}
		return exitFindings
	}
	if asJSON {
		out, _ := json.Marshal(rec)
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	fmt.Fprintf(stdout, "released %s (%s)\n", rec.ID, rec.Plan.Trigger.Source())
	for _, s := range rec.Released.Steps {
		fmt.Fprintf(stdout, "  %s\n", s)
	}
	// Quoted verbatim from
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html
	fmt.Fprintln(stdout, `IAM: "It might take a few minutes for policy updates to take effect." ECS tasks started since keep their credentials.`)
	return exitOK
}
