package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// appKeyParam reads --app-key-arn: the app key as AWS/KMS's per-key metric names it (its KeyArn
// dimension) and CloudTrail lists it in a Decrypt's resources.
func appKeyParam(v string) (string, error) {
	k, err := rules.ParseKeyRef(v)
	if err != nil {
		return "", fmt.Errorf("--app-key-arn %w", err)
	}
	if k.Kind != rules.KeyARN {
		return "", fmt.Errorf("--app-key-arn %q: want the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), as AWS/KMS names it in its KeyArn dimension", v)
	}
	return v, nil
}

// selectMetricsRules applies --app-key-arn and keeps from the selection what replay can judge
// from logs: a metric-math rule reads metrics no log holds (its question, per request, is
// app-decrypt-unmatched's), and a rule on the app key's metric needs that key.
func (f *replayFlags) selectMetricsRules(stderr io.Writer) (int, bool) {
	if f.appKeyARN != "" {
		key, err := appKeyParam(f.appKeyARN)
		if err != nil {
			return usageError(stderr, f.name(), "%v", err), false
		}
		f.params.AppKeyARN = key
	}
	var kept []rules.Rule
	var noKey []string
	for _, r := range f.selected {
		switch {
		case r.Expression() != "":
			f.skip(stderr, "%s skipped: it alarms on metric math (%s) that no log holds; "+
				"app-decrypt-unmatched answers its question exactly, per request", r.ID, r.Expression())
		case r.UsesAppKey() && f.params.AppKeyARN == "":
			noKey = append(noKey, r.ID)
		default:
			kept = append(kept, r)
		}
	}
	if len(noKey) > 0 {
		f.skip(stderr, "%s skipped: %s the app key's decrypts; pass --app-key-arn", strings.Join(noKey, ", "), theyOrIt(len(noKey), "count"))
	}
	f.selected = kept
	return exitOK, true
}

// theyOrIt is the subject and verb of a skip note on n rules: "they look", "it looks".
func theyOrIt(n int, verb string) string {
	if n == 1 {
		return "it " + verb + "s"
	}
	return "they " + verb
}
