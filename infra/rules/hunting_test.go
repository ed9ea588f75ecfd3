package rules

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Athena and Logs Insights renderings. That the SQL counts what replay counts is checked by
// running it on DuckDB (infra/rules/duckcheck); these tests pin the texts and the refusals.

var huntingParams = Params{TaskRoleARN: labTaskRole, AppKeyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", KeyARNs: []string{
	"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
}}

// TestGoldenHuntingQueries pins every rule's Athena SQL and Logs Insights query, with the stack's
// role and keys and without them; `go test -update` rewrites the files. The rules that cannot
// have one are refused with the reason.
func TestGoldenHuntingQueries(t *testing.T) {
	for _, r := range Default() {
		for _, params := range []struct {
			suffix string
			p      Params
		}{{"", Params{}}, {".deployed", huntingParams}} {
			sql, err := r.AthenaQuery(params.p)
			switch {
			case r.HasAthenaQuery() && err != nil:
				t.Errorf("%s: %v", r.ID, err)
			case r.HasAthenaQuery():
				checkGolden(t, filepath.Join("testdata", "athena", r.ID+params.suffix+".sql"), sql)
			case r.Source == AppLogs && !errors.Is(err, ErrNotInTrail):
				t.Errorf("%s reads app logs: Athena query %q, error %v; want ErrNotInTrail", r.ID, sql, err)
			case r.Source != AppLogs && !errors.Is(err, ErrTwoLogs):
				t.Errorf("%s relates two logs: Athena query %q, error %v; want ErrTwoLogs", r.ID, sql, err)
			}
			insights, err := r.InsightsQuery(params.p)
			switch {
			case r.HasInsightsQuery() && err != nil:
				t.Fatalf("%s: %v", r.ID, err)
			case r.HasInsightsQuery():
				checkGolden(t, filepath.Join("testdata", "insights", r.ID+params.suffix+".insights"), insights)
			case !errors.Is(err, ErrTwoLogs):
				t.Errorf("%s: Insights query %q, error %v; want ErrTwoLogs", r.ID, insights, err)
			}
		}
	}
}

// Which rule gets which hunting query: CloudTrail records have Athena's table and the trail's log
// group; the app's lines only their log group; a difference or a join of both logs neither.
func TestEveryCloudTrailRuleHasAnAthenaQuery(t *testing.T) {
	want := map[string][2]bool{ // Athena, Logs Insights
		"app-kms-errors": {true, true}, "kms-key-disable-or-delete": {true, true}, "app-decrypt-volume": {true, true},
		"app-decrypt-denied": {false, true}, "kms-key-policy-change": {true, true},
		"app-key-decrypt-rate": {true, true}, "app-decrypt-unserved": {false, false}, "app-decrypt-unmatched": {false, false},
	}
	for _, r := range Default() {
		w, ok := want[r.ID]
		if !ok {
			t.Errorf("%s: no expectation here", r.ID)
			continue
		}
		if r.HasAthenaQuery() != w[0] || r.HasInsightsQuery() != w[1] {
			t.Errorf("%s (source %s): Athena %v, Insights %v; want %v", r.ID, r.Source, r.HasAthenaQuery(), r.HasInsightsQuery(), w)
		}
		if r.InsightsOnAppLogs() != (r.Source == AppLogs) {
			t.Errorf("%s (source %s): Logs Insights on the app logs %v", r.ID, r.Source, r.InsightsOnAppLogs())
		}
	}
}

// A condition op the renderers do not know must stop the rendering, not pass as another op.
func TestAnUnknownOpIsRefused(t *testing.T) {
	r, _ := Lookup("kms-key-disable-or-delete")
	const unknown = op(99)
	r.when = append(append([]cond(nil), r.when...), cond{field: fieldName, op: unknown, values: []string{"x"}})
	if q, err := r.AthenaQuery(Params{}); err == nil || !strings.Contains(err.Error(), "op 99") {
		t.Errorf("Athena: %q, %v; want an error naming the op", q, err)
	}
	if q, err := r.InsightsQuery(Params{}); err == nil || !strings.Contains(err.Error(), "op 99") {
		t.Errorf("Insights: %q, %v; want an error naming the op", q, err)
	}
}

// Every op the matcher knows today has a rendering, on a plain column and inside resources[]. A new
// op fails TestGoldenHuntingQueries (through the rule that uses it) until both renderers know it.
func TestEveryKnownOpRenders(t *testing.T) {
	r, _ := Lookup("kms-key-disable-or-delete")
	for _, o := range []op{opEquals, opPresent, opAbsent} {
		r.when = []cond{
			{field: fieldErrorCode, op: o, values: []string{"AccessDeniedException"}},
			{field: "resources.ARN", op: o, values: []string{"arn:k"}},
			{field: "requestParameters.keyId", op: o, values: []string{"k"}}, // inside the JSON string column
		}
		if _, err := r.AthenaQuery(Params{}); err != nil {
			t.Errorf("op %d: Athena: %v", o, err)
		}
		if _, err := r.InsightsQuery(Params{}); err != nil {
			t.Errorf("op %d: Insights: %v", o, err)
		}
	}
	// opAny, the key scope, with every form of key a caller may give, and an id whose account and
	// Region are unknown (matched by its ARN's ending).
	r.when = []cond{keyScope()}
	p := Params{KeyARNs: []string{"arn:aws:kms:us-east-1:111122223333:key/k1"}, KeyAliases: []string{"alias/app"}, KeyIDs: []string{"k2"}}
	sql, err := r.AthenaQuery(p)
	if err != nil {
		t.Fatalf("opAny: Athena: %v", err)
	}
	for _, want := range []string{"json_extract_scalar(requestparameters, '$.keyId')", "json_extract_scalar(requestparameters, '$.aliasName') = 'alias/app'",
		"cardinality(filter(resources, r -> ", `LIKE '%:key/k2' ESCAPE '\'`, " OR "} {
		if !strings.Contains(sql, want) {
			t.Errorf("opAny: Athena SQL lacks %q:\n%s", want, sql)
		}
	}
	q, err := r.InsightsQuery(p)
	if err != nil {
		t.Fatalf("opAny: Insights: %v", err)
	}
	for _, want := range []string{"requestParameters.keyId in [", `requestParameters.aliasName = "alias/app"`, "resources.0.ARN", " or ", `like /:key\/k2$/`} {
		if !strings.Contains(q, want) {
			t.Errorf("opAny: Insights query lacks %q:\n%s", want, q)
		}
	}
}

func TestAFieldOutsideTheCloudTrailTableIsRefused(t *testing.T) {
	r, _ := Lookup("kms-key-disable-or-delete")
	r.when = []cond{equals("userIdentity.noSuchField", "k")} // not in the table's schema
	if q, err := r.AthenaQuery(Params{}); err == nil {
		t.Errorf("Athena rendered %q for a field the table does not know", q)
	}
	if q, err := r.InsightsQuery(Params{}); err == nil {
		t.Errorf("Insights rendered %q for a field the table does not know", q)
	}
}

func TestQuotesInValuesAreEscaped(t *testing.T) {
	r, _ := Lookup("app-kms-errors")
	p := Params{TaskRoleARN: `arn:aws:iam::111122223333:role/it's"odd\`}
	sql, err := r.AthenaQuery(p)
	if err != nil || !strings.Contains(sql, `= 'arn:aws:iam::111122223333:role/it''s"odd\'`) {
		t.Errorf("SQL literal not escaped:\n%s (%v)", sql, err)
	}
	insights, err := r.InsightsQuery(p)
	if err != nil || !strings.Contains(insights, `= "arn:aws:iam::111122223333:role/it's\"odd\\"`) {
		t.Errorf("Insights string not escaped:\n%s (%v)", insights, err)
	}
}

// The SQL's period start must be time.Truncate's, also for a period that does not divide a day
// (periods since Go's zero time, not since the Unix epoch).
func TestPeriodStartFollowsTimeTruncate(t *testing.T) {
	for _, tc := range []struct {
		period time.Duration
		want   string
	}{
		{time.Minute, "% 60)"},
		{5 * time.Minute, "% 300)"},
		{7 * time.Minute, "+ 60) % 420)"}, // 62135596800 = 147941897*420 + 60
		{24 * time.Hour, "% 86400)"},
	} {
		if got := sqlPeriodStart("t", tc.period); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s, want %q in it", tc.period, got, tc.want)
		}
	}
	if zero := (time.Time{}).Unix(); goZeroToUnix != -zero {
		t.Errorf("goZeroToUnix %d, want %d", goZeroToUnix, -zero)
	}
}

func TestColumnTypesRenderAsHive(t *testing.T) {
	var resources, identity string
	for _, c := range CloudTrailColumns {
		switch c.Name {
		case "resources":
			resources = c.Type.Hive()
		case "useridentity":
			identity = c.Type.Hive()
		}
	}
	if resources != "array<struct<arn:string,accountid:string,type:string>>" {
		t.Errorf("resources: %s", resources)
	}
	if !strings.Contains(identity, "sessionissuer:struct<type:string,principalid:string,arn:string,accountid:string,username:string>") ||
		!strings.Contains(identity, "attributes:map<string,string>") {
		t.Errorf("useridentity: %s", identity)
	}
}
