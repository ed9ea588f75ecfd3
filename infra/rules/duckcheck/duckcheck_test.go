package duckcheck

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/kmswatch/kmswatch/infra/rules/corpus"
)

// The Athena SQL that `kmswatch rules --format athena` prints and the stack saves, run unchanged
// on DuckDB over the same CloudTrail files replay reads, must find replay's periods, counts and
// records, for every CloudTrail rule, with and without the deployment's role and keys, at several
// thresholds.
//
// What this check does not cover, beside the shims in Shims:
//   - JSON null versus a missing key. The table's string columns are NULL for both, while the
//     matcher (after CloudWatch) holds a null field present, so "absent" differs on
//     "errorCode": null. CloudTrail leaves a field out rather than writing null; the catalog's
//     record that tests this against the matcher is kept out of the corpus (notInCorpus).
//   - A number, object or array where a compared string should be: the SerDe gives a string
//     column the value's text, and "equals" would compare it. CloudTrail writes strings there.
//   - Athena itself: its SerDe reading of real S3 objects, and execution parameters as the console
//     or StartQueryExecution bind them (here: database/sql's ? binding).

const labTaskRole = "arn:aws:iam::111122223333:role/pattern1-application-Pattern1ECSTaskRole"

// notInCorpus names the catalog records the check leaves out, with why.
var notInCorpus = map[string]string{
	"an errorCode of null is no error": "JSON null: the table cannot tell it from a missing key",
}

func TestAthenaSQLOnDuckDBCountsWhatReplayCounts(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	st, err := corpus.Write(dir, "../testdata/cloudtrail", corpus.Options{
		Files: 100, RecordsPerFile: 2000, Step: 1500 * time.Millisecond, Layout: corpus.S3,
		Regions: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, Extra: catalogCloudTrailRecords(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	days := dayFolders(t, dir)
	if st.Records != 200_000 || len(days) < 3 {
		t.Fatalf("corpus: %d records over days %v; want 200,000 over several days", st.Records, days)
	}
	ctx := context.Background()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var loaded int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+rules.AthenaTable).Scan(&loaded); err != nil || loaded != st.Records {
		t.Fatalf("DuckDB holds %d records (%v), want %d", loaded, err, st.Records)
	}
	t.Logf("corpus of %d records in %d files over %d days written and loaded in %s", st.Records, st.Files, len(days), time.Since(start).Round(time.Millisecond))

	paramSets := map[string]rules.Params{
		"no role, any key": {},
		"the lab's role":   {TaskRoleARN: labTaskRole},
		"role and two keys": {TaskRoleARN: labTaskRole, KeyARNs: []string{
			"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", // kms-putkeypolicy.json's key
			"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", // the UpdateAlias record's key
		}, AppKeyARN: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, // kms-decrypt-success-iamuser.json's
	}
	compared := 0
	for name, p := range paramSets {
		replayed := rules.Replay([]string{dir}, rules.ReplayOptions{Params: p})
		if len(replayed.Problems) > 0 || replayed.Records != st.Records {
			t.Fatalf("%s: replay read %d records, problems %v", name, replayed.Records, replayed.Problems)
		}
		for i, r := range replayed.Rules {
			if !r.HasAthenaQuery() {
				continue
			}
			times, ids := ruleMatches(replayed, i)
			if len(times) == 0 && (p.TaskRoleARN != "" || !r.UsesTaskRole()) && (p.AppKeyARN != "" || !r.UsesAppKey()) {
				t.Fatalf("%s, %s: replay matched nothing; the corpus must exercise every rule", name, r.ID)
			}
			for _, f := range firings(r, times) {
				tuned := r.WithFiring(f)
				want := expected(tuned, times, ids)
				got := runAthena(t, db, tuned, p, days[0], days[len(days)-1])
				if !slices.EqualFunc(got, want, equalRows) {
					t.Errorf("%s, %s at %s: DuckDB found %d rows, replay %d; first difference:\n%s",
						name, r.ID, f, len(got), len(want), firstDifference(got, want))
				}
				compared += len(want)
			}
		}
	}
	if compared == 0 {
		t.Fatal("no breaching period anywhere: the check compared nothing")
	}
	t.Logf("%d rows compared; whole test %s", compared, time.Since(start).Round(time.Millisecond))
}

// The day parameters select partitions: one day's query sees exactly the files of that day's
// folders, as replay of those files does.
func TestAthenaSQLReadsOnlyTheDaysAsked(t *testing.T) {
	dir := t.TempDir()
	if _, err := corpus.Write(dir, "../testdata/cloudtrail", corpus.Options{
		Files: 12, RecordsPerFile: 500, Step: 2 * time.Minute, Layout: corpus.S3,
		Regions: []string{"us-east-1", "eu-west-1"}, Extra: catalogCloudTrailRecords(t),
	}); err != nil {
		t.Fatal(err)
	}
	days := dayFolders(t, dir)
	if len(days) < 3 {
		t.Fatalf("days %v: want at least three", days)
	}
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := days[1]
	files, _ := filepath.Glob(filepath.Join(dir, "AWSLogs", "*", "CloudTrail", "*", filepath.FromSlash(day), "*.json.gz"))
	r, _ := rules.Lookup("kms-key-disable-or-delete")
	replayed := rules.Replay(files, rules.ReplayOptions{Rules: []rules.Rule{r}})
	var times []time.Time
	ids := map[time.Time][]string{}
	for _, m := range replayed.Matches {
		times = append(times, m.EventTime)
		ids[m.EventTime] = append(ids[m.EventTime], m.EventID)
	}
	want := expected(r, times, ids)
	if len(want) == 0 {
		t.Fatalf("no match in %s's files %v", day, files)
	}
	if got := runAthena(t, db, r, rules.Params{}, day, day); !slices.EqualFunc(got, want, equalRows) {
		t.Errorf("day %s: DuckDB %d rows, replay of its files %d:\n%s", day, len(got), len(want), firstDifference(got, want))
	}
}

// The SQL filters partitions on the day only, so one query reads every account and Region the
// table projects (huntingAccounts, huntingRegions): over two accounts' files in three Regions it
// still finds what replay of all of them finds.
func TestAthenaSQLReadsEveryAccountAndRegion(t *testing.T) {
	dir := t.TempDir()
	total := 0
	for i, account := range []string{"111122223333", "444455556666"} {
		st, err := corpus.Write(dir, "../testdata/cloudtrail", corpus.Options{
			Files: 12, RecordsPerFile: 500, Step: 2 * time.Minute, Layout: corpus.S3, Account: account, Seed: uint64(i + 1),
			Regions: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, Extra: catalogCloudTrailRecords(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		total += st.Records
	}
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var accounts, regions int
	if err := db.QueryRow("SELECT count(DISTINCT account), count(DISTINCT region) FROM "+rules.AthenaTable).Scan(&accounts, &regions); err != nil || accounts != 2 || regions != 3 {
		t.Fatalf("DuckDB holds %d accounts and %d regions (%v), want 2 and 3", accounts, regions, err)
	}
	days := dayFolders(t, dir)
	replayed := rules.Replay([]string{dir}, rules.ReplayOptions{})
	if len(replayed.Problems) > 0 || replayed.Records != total {
		t.Fatalf("replay read %d records of %d, problems %v", replayed.Records, total, replayed.Problems)
	}
	compared := 0
	for i, r := range replayed.Rules {
		if !r.HasAthenaQuery() {
			continue
		}
		times, ids := ruleMatches(replayed, i)
		for _, f := range firings(r, times) {
			tuned := r.WithFiring(f)
			want := expected(tuned, times, ids)
			if got := runAthena(t, db, tuned, rules.Params{}, days[0], days[len(days)-1]); !slices.EqualFunc(got, want, equalRows) {
				t.Errorf("%s at %s: DuckDB %d rows, replay %d:\n%s", r.ID, f, len(got), len(want), firstDifference(got, want))
			}
			compared += len(want)
		}
	}
	if compared == 0 {
		t.Fatal("no breaching period anywhere: the check compared nothing")
	}
}

// catalogCloudTrailRecords are the rules' own CloudTrail test records (app log lines are not in
// the trail), so that the corpus holds what the samples lack, such as the task role's Decrypts.
func catalogCloudTrailRecords(t *testing.T) []string {
	t.Helper()
	var out []string
	left := map[string]bool{}
	for _, r := range rules.Default() {
		for _, c := range r.Cases() {
			var rec map[string]any
			if c.Record == "" || json.Unmarshal([]byte(c.Record), &rec) != nil || rec["eventSource"] == nil {
				continue
			}
			if _, skip := notInCorpus[c.Name]; skip {
				left[c.Name] = true
				continue
			}
			out = append(out, c.Record)
		}
	}
	for name := range notInCorpus {
		if !left[name] {
			t.Fatalf("notInCorpus names %q, which is no catalog record any more", name)
		}
	}
	return out
}

// firings are the ones each rule is checked at: its own, every period (threshold 1), a threshold in
// between that some periods reach and some do not, and a 7-minute period, which does not divide a
// day, so that replay's periods (multiples since Go's zero time) and the SQL's must agree on where
// periods start.
func firings(r rules.Rule, times []time.Time) []rules.Firing {
	if r.Firing.Immediate {
		return []rules.Firing{r.Firing}
	}
	with := func(period time.Duration, threshold float64) rules.Firing {
		f := r.Firing
		f.Period, f.Threshold = period, threshold
		return f
	}
	out := []rules.Firing{r.Firing, with(r.Firing.Period, 1), with(7*time.Minute, 1)}
	var counts []int
	for _, p := range rules.Evaluate(with(r.Firing.Period, 1), times).Periods {
		counts = append(counts, p.Count)
	}
	if len(counts) > 0 {
		sort.Ints(counts)
		out = append(out, with(r.Firing.Period, float64(counts[len(counts)/2]+1)))
	}
	return out
}

// row is one result row as compared: the period, its count and one record of it.
type row struct {
	period  time.Time
	count   int
	eventID string
}

func (r row) String() string {
	return fmt.Sprintf("%s count %d %s", r.period.UTC().Format(time.RFC3339), r.count, r.eventID)
}

func compareRows(a, b row) int {
	return cmp.Or(a.period.Compare(b.period), cmp.Compare(a.count, b.count), strings.Compare(a.eventID, b.eventID))
}

func equalRows(a, b row) bool { return compareRows(a, b) == 0 }

// expected is what the query must return by replay's reckoning: the records of every period that
// reaches the threshold (each record its own period for an immediate rule).
func expected(r rules.Rule, times []time.Time, ids map[time.Time][]string) []row {
	breaching := map[time.Time]int{} // period start -> count
	for _, p := range rules.Evaluate(r.Firing, times).Breaching() {
		breaching[p.Start] = p.Count
	}
	var out []row
	for at, list := range ids {
		start := at // an immediate rule's period is its event
		if !r.Firing.Immediate {
			start = at.UTC().Truncate(r.Firing.Period) // as Evaluate places it
		}
		if count, ok := breaching[start]; ok {
			for _, id := range list {
				out = append(out, row{period: start, count: count, eventID: id})
			}
		}
	}
	slices.SortFunc(out, compareRows)
	return out
}

func runAthena(t *testing.T, db *sql.DB, r rules.Rule, p rules.Params, firstDay, lastDay string) []row {
	t.Helper()
	query, err := r.AthenaQuery(p)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(query, firstDay, lastDay)
	if err != nil {
		t.Fatalf("%s: DuckDB refused the SQL: %v\n%s", r.ID, err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !slices.Equal(cols, rules.AthenaColumns) {
		t.Fatalf("%s: columns %v, want %v", r.ID, cols, rules.AthenaColumns)
	}
	var out []row
	for rows.Next() {
		var got row
		var eventTime time.Time
		var name, code, principal, ip, account, region sql.NullString
		if err := rows.Scan(&got.period, &got.count, &eventTime, &got.eventID, &name, &code, &principal, &ip, &account, &region); err != nil {
			t.Fatal(err)
		}
		if !account.Valid || !region.Valid {
			t.Fatalf("%s: a row without its partition's account and region", r.ID)
		}
		out = append(out, got)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, compareRows)
	return out
}

func firstDifference(got, want []row) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		if g != w {
			return fmt.Sprintf("  row %d: DuckDB %q, replay %q", i, g, w)
		}
	}
	return "  none"
}

// dayFolders lists the corpus's yyyy/MM/dd folders, sorted.
func dayFolders(t *testing.T, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		parts := strings.Split(filepath.ToSlash(rel), "/")
		seen[strings.Join(parts[len(parts)-3:], "/")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// ruleMatches are replay's matches of rule i: their times in order, and each time's event ids.
func ruleMatches(res *rules.ReplayResult, i int) ([]time.Time, map[time.Time][]string) {
	var times []time.Time
	ids := map[time.Time][]string{}
	for _, m := range res.Matches {
		if m.Rule == i {
			times = append(times, m.EventTime)
			ids[m.EventTime] = append(ids[m.EventTime], m.EventID)
		}
	}
	return times, ids
}
