package rules

import (
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules/corpus"
)

// BenchmarkReplay replays the TARGETS.md corpus (100 gzip'd files x 2,000 records) with every
// rule. Generate once per run: go test -bench Replay -benchtime 3x ./infra/rules/
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	st, err := corpus.Write(dir, samplesDir, corpus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.JSONBytes)
	b.ResetTimer()
	for b.Loop() {
		res := Replay([]string{dir}, ReplayOptions{Params: labParams})
		if res.Records != st.Records || len(res.Problems) > 0 {
			b.Fatalf("replayed %d records of %d, problems %v", res.Records, st.Records, res.Problems)
		}
	}
}
