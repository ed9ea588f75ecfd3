package main

import (
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// `kmswatch rules --format athena|insights` prints each rule's query as the stack saves it, in the
// rule set's order, one blank line apart.
func TestRulesPrintsTheHuntingQueries(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	p := rules.Params{TaskRoleARN: labRole, KeyARNs: []string{key}}
	for _, format := range []string{"athena", "insights"} {
		r := runCLI("rules", "--format", format, "--role-arn", labRole, "--key-arn", key)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", format, r.code, r.stderr)
		}
		var want []string
		for _, rule := range rules.Default() {
			var q string
			var err error
			switch {
			case format == "insights" && !rule.HasInsightsQuery():
				q = "# kmswatch " + rule.ID + ": no Logs Insights query: the rule " + rules.ErrTwoLogs.Error() + "\n"
			case format == "insights":
				q, err = rule.InsightsQuery(p)
			case rule.HasAthenaQuery():
				q, err = rule.AthenaQuery(p)
			case rule.Source == rules.AppLogs:
				q = "-- kmswatch " + rule.ID + ": no Athena query: the rule " + rules.ErrNotInTrail.Error() + "\n"
			default:
				q = "-- kmswatch " + rule.ID + ": no Athena query: the rule " + rules.ErrTwoLogs.Error() + "\n"
			}
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, q)
		}
		if got := r.stdout; got != strings.Join(want, "\n") {
			t.Errorf("%s output:\n%s\nwant:\n%s", format, got, strings.Join(want, "\n"))
		}
		if !strings.Contains(r.stdout, labRole) || !strings.Contains(r.stdout, key) {
			t.Errorf("%s output does not use the role and key given", format)
		}
	}
}
