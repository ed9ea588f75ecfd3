package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFixturesComplete proves the fixture set is whole: every sample a rule case names is in
// testdata/cloudtrail, and every record there is listed, with its source page, in the README
// beside it, so that a clone needs nothing outside the repository.
func TestFixturesComplete(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(samplesDir, "README.md"))
	if err != nil {
		t.Fatalf("the fixtures' README: %v", err)
	}
	listed := func(name string) bool {
		for _, line := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(line, "| `"+name+"` |") && strings.Contains(line, "](https://") {
				return true
			}
		}
		return false
	}
	var named []string
	for _, r := range Default() {
		for _, c := range r.Cases() {
			if c.Sample == "" {
				continue
			}
			named = append(named, c.Sample)
			if _, err := os.Stat(filepath.Join(samplesDir, c.Sample)); err != nil {
				t.Errorf("rule %s, case %q names %s: %v", r.ID, c.Name, c.Sample, err)
			}
		}
	}
	if len(named) == 0 {
		t.Fatal("no rule case names a sample file; the check would prove nothing")
	}
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s (%v)", samplesDir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !listed(name) {
			t.Errorf("%s is not listed with its source in %s/README.md", name, samplesDir)
		}
		if !slices.Contains(named, name) {
			t.Logf("%s is not named by a rule case (TestSamplesTable still checks it)", name)
		}
	}
}
