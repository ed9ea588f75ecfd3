package corpus

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
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
