package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shapesDir holds the shapes CloudTrail events come in, each from an AWS page (see its README).
const shapesDir = "testdata/shapes"

// TestShapes replays each shape fixture alone and checks what replay makes of it, as the
// fixtures' README says. On the old reader, which knew {"Records":[...]}, single records and
// JSON lines only, each of these failed: Insights events were problems, arrays and EventBridge
// events were skipped or taken for app lines, Lake times were problems, the CLI outputs unread.
func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		file     string
		records  int
		shape    string // where the records came from
		matches  []string
		insights int
		digests  int
		unknown  []string // substrings of the problems, each of unknown JSON
	}{
		{file: "insights-apicallrate.json", insights: 2},
		{file: "digest-file.json", digests: 1},
		{file: "eventbridge-cloudtrail-createbucket.json", records: 1, shape: "EventBridge events"},
		{file: "eventbridge-kms-disablekey.json", records: 1, shape: "EventBridge events", matches: []string{"kms-key-disable-or-delete DisableKey"}},
		{file: "eventbridge-kms-cmk-rotation.json", unknown: []string{`detail-type "KMS CMK Rotation", not one CloudTrail sends`}},
		{file: "lookup-events-consolelogin.json", records: 1, shape: "lookup-events output"},
		{file: "lookup-events-kms.json", records: 1, shape: "lookup-events output", matches: []string{"kms-key-disable-or-delete DisableKey"}},
		{file: "filter-log-events-plain-messages.json", unknown: []string{`record 1: a message that is not JSON ("Test MESSAGE1")`, `record 2: a message that is not JSON ("Test MESSAGE2")`}},
		{file: "filter-log-events-kms.json", records: 2, shape: "filter-log-events output", matches: []string{"kms-key-disable-or-delete DisableKey", "kms-key-policy-change PutKeyPolicy"}},
		{file: "filter-log-events-query-messages.json", records: 2, shape: "JSON arrays", matches: []string{"kms-key-disable-or-delete DisableKey", "kms-key-policy-change PutKeyPolicy"}},
		{file: "filter-log-events-kms.txt", records: 2, shape: "AWS CLI text output", matches: []string{"kms-key-disable-or-delete DisableKey", "kms-key-policy-change PutKeyPolicy"}},
		{file: "lake-query-results-user-apis.json", records: 2, shape: "CloudTrail Lake query rows"},
		{file: "lake-query-results-kms.json", records: 1, shape: "CloudTrail Lake query rows", matches: []string{"kms-key-disable-or-delete DisableKey"}},
		{file: "siem-disablekey-lake-time.json", records: 1, shape: "single records", matches: []string{"kms-key-disable-or-delete DisableKey"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := Replay([]string{filepath.Join(shapesDir, tc.file)}, ReplayOptions{Params: labParams})
			var unknown []string
			for _, p := range res.Problems {
				if !p.Unknown {
					t.Errorf("problem: %v", p)
					continue
				}
				unknown = append(unknown, p.Error())
			}
			if len(unknown) != len(tc.unknown) || res.Tally.Unknown != len(tc.unknown) {
				t.Errorf("unknown JSON = %q (tally %d), want %d", unknown, res.Tally.Unknown, len(tc.unknown))
			}
			for i, want := range tc.unknown {
				if i < len(unknown) && !strings.Contains(unknown[i], want) {
					t.Errorf("unknown %d = %q, want it to say %q", i, unknown[i], want)
				}
			}
			if res.Records != tc.records || res.Tally.Insights != tc.insights || res.Tally.Digests != tc.digests {
				t.Errorf("records %d, insights %d, digests %d; want %d, %d, %d", res.Records, res.Tally.Insights, res.Tally.Digests, tc.records, tc.insights, tc.digests)
			}
			if tc.records > 0 && res.Tally.ByShape[tc.shape] != tc.records {
				t.Errorf("by shape = %v, want %d %s", res.Tally.ByShape, tc.records, tc.shape)
			}
			got := matchedIDs(res)
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tc.matches, ",") {
				t.Errorf("matches = %v, want %v", got, tc.matches)
			}
		})
	}
}

func TestLakeRowsSayWhatTheyCannotHold(t *testing.T) {
	res := Replay([]string{filepath.Join(shapesDir, "lake-query-results-kms.json")}, ReplayOptions{})
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "1 CloudTrail Lake rows were judged on their top-level columns only") {
		t.Errorf("notes = %q", res.Notes)
	}
}

func TestInsightsAreContextNotProblems(t *testing.T) {
	res := Replay([]string{filepath.Join(shapesDir, "insights-apicallrate.json")}, ReplayOptions{})
	if len(res.Problems) > 0 || len(res.Insights) != 2 {
		t.Fatalf("problems %v, insights %+v", res.Problems, res.Insights)
	}
	in := res.Insights[0]
	if in.State != "Start" || in.InsightType != "ApiCallRateInsight" || in.EventSource != "ssm.amazonaws.com" ||
		in.EventName != "UpdateInstanceInformation" || in.EventTime.Format("15:04") != "00:51" {
		t.Errorf("first Insights event = %+v", in)
	}
	if res.Insights[1].State != "End" {
		t.Errorf("second Insights event = %+v", res.Insights[1])
	}
}

// TestShapesAsTheyArriveFromS3 reads the shapes gzip'd, with names that say nothing, and with a
// UTF-8 byte-order mark, from a directory walk: content decides, not the name.
func TestShapesAsTheyArriveFromS3(t *testing.T) {
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(shapesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	bom := []byte{0xEF, 0xBB, 0xBF}
	dir := writeFiles(t, map[string][]byte{
		"AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2019/11/14/insight.json.gz": gzipped(t, read("insights-apicallrate.json")),
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/digest.json.gz":   gzipped(t, read("digest-file.json")),
		"exports/a": gzipped(t, append(slices.Clone(bom), read("eventbridge-kms-disablekey.json")...)),
		"exports/b": append(slices.Clone(bom), mustReadSample(t, "kms-schedulekeydeletion.json")...),
		"exports/c": read("filter-log-events-kms.txt"),
	})
	res := Replay([]string{dir}, ReplayOptions{})
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	got := matchedIDs(res)
	slices.Sort(got)
	want := []string{"kms-key-disable-or-delete DisableKey", "kms-key-disable-or-delete DisableKey", "kms-key-disable-or-delete ScheduleKeyDeletion", "kms-key-policy-change PutKeyPolicy"}
	if strings.Join(got, ",") != strings.Join(want, ",") || res.Tally.Insights != 2 || res.Tally.Digests != 1 {
		t.Errorf("matches %v, insights %d, digests %d", got, res.Tally.Insights, res.Tally.Digests)
	}
}

func TestShapeFixturesListed(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(shapesDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(shapesDir)
	if err != nil || len(entries) < 2 {
		t.Fatalf("shapes: %v", err)
	}
	for _, e := range entries {
		if e.Name() == "README.md" {
			continue
		}
		if !strings.Contains(string(readme), "| `"+e.Name()+"` |") {
			t.Errorf("%s is not listed with its source in %s/README.md", e.Name(), shapesDir)
		}
	}
}
