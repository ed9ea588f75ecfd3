package corpus

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestWriteMakesGzippedCloudTrailFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := Write(dir, "../testdata/cloudtrail", Options{Files: 3, RecordsPerFile: 50})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Records != 150 || st.GzBytes >= st.JSONBytes {
		t.Errorf("stats = %+v", st)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if len(names) != 3 {
		t.Fatalf("files = %v", names)
	}
	ids := map[string]bool{}
	var last time.Time
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var file struct {
			Records []struct {
				EventID   string    `json:"eventID"`
				EventTime time.Time `json:"eventTime"`
				EventName string    `json:"eventName"`
			}
		}
		if err := json.NewDecoder(zr).Decode(&file); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
		for _, r := range file.Records {
			if ids[r.EventID] || len(r.EventID) != 36 {
				t.Errorf("eventID %q repeated or not a UUID", r.EventID)
			}
			ids[r.EventID] = true
			if !r.EventTime.After(last) || r.EventName == "" {
				t.Errorf("record %s at %s after %s, name %q", r.EventID, r.EventTime, last, r.EventName)
			}
			last = r.EventTime
		}
	}
	if len(ids) != 150 {
		t.Errorf("%d distinct records, want 150", len(ids))
	}
}

func TestS3LayoutSpreadsFilesOverRegionsAndDaysUnderCloudTrailKeys(t *testing.T) {
	dir := t.TempDir()
	extra := `{"eventTime":"2000-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"ExtraMarker","awsRegion":"xx"}`
	_, err := Write(dir, "../testdata/cloudtrail", Options{
		Files: 8, RecordsPerFile: 100, Step: 10 * time.Minute, Layout: S3,
		Account: "444455556666", Regions: []string{"us-east-1", "eu-west-1"}, Extra: []string{extra},
	})
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "AWSLogs", "*", "CloudTrail", "*", "*", "*", "*", "*.json.gz"))
	if len(names) != 8 {
		t.Fatalf("files under CloudTrail's keys: %v", names)
	}
	key := regexp.MustCompile(`/AWSLogs/444455556666/CloudTrail/(us-east-1|eu-west-1)/(\d{4})/(\d{2})/(\d{2})/444455556666_CloudTrail_(us-east-1|eu-west-1)_(\d{8})T\d{4}Z_\d{4}\.json\.gz$`)
	days, regions, extras := map[string]bool{}, map[string]bool{}, 0
	for _, name := range names {
		m := key.FindStringSubmatch(filepath.ToSlash(name))
		if m == nil || m[1] != m[5] || m[2]+m[3]+m[4] != m[6] {
			t.Fatalf("%s: not CloudTrail's key layout", name)
		}
		days[m[6]], regions[m[1]] = true, true
		var file struct {
			Records []struct {
				EventTime time.Time `json:"eventTime"`
				EventName string    `json:"eventName"`
				AWSRegion string    `json:"awsRegion"`
			}
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(zr).Decode(&file); err != nil {
			t.Fatal(err)
		}
		f.Close()
		for _, r := range file.Records {
			if r.AWSRegion != m[1] {
				t.Errorf("%s: record in region %q", name, r.AWSRegion)
			}
			// A file lies under the day it was delivered: on or after its events' day.
			if r.EventTime.UTC().Format("20060102") > m[6] {
				t.Errorf("%s: record of %s lies in an earlier day's folder", name, r.EventTime)
			}
			if r.EventName == "ExtraMarker" {
				extras++
			}
		}
	}
	// 800 records 10 minutes apart: 5.5 days, in both regions.
	if len(days) < 5 || len(regions) != 2 {
		t.Errorf("days %v, regions %v: want the files spread over days and both regions", days, regions)
	}
	if extras == 0 {
		t.Error("the extra record was never drawn")
	}
}

func TestWritePlainFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := Write(dir, "../testdata/cloudtrail", Options{Files: 1, RecordsPerFile: 30, Plain: true})
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(names) != 1 || st.GzBytes != st.JSONBytes {
		t.Fatalf("files %v, stats %+v: want one plain file, its size on disk its JSON", names, st)
	}
	data, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Records []json.RawMessage }
	if err := json.Unmarshal(data, &file); err != nil || len(file.Records) != 30 || int64(len(data)) != st.JSONBytes {
		t.Errorf("%d records, %d bytes, %v", len(file.Records), len(data), err)
	}
}

// The output folder need not exist, as with mkdir -p: gencorpus DIR makes it, in either layout.
func TestWriteMakesTheOutputFolder(t *testing.T) {
	for _, layout := range []Layout{Flat, S3} {
		dir := filepath.Join(t.TempDir(), "not", "yet")
		if _, err := Write(dir, "../testdata/cloudtrail", Options{Files: 1, RecordsPerFile: 5, Layout: layout}); err != nil {
			t.Errorf("layout %v: %v", layout, err)
		}
	}
}
