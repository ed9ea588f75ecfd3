package rules

import (
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules/corpus"
)

// BenchmarkReplay replays the TARGETS.md corpus (100 gzip'd files x 2,000 records) with every
// rule. Generate once per run: go test -bench Replay -benchtime 3x ./infra/rules/
func BenchmarkReplay(b *testing.B) {
	benchReplay(b, ReplayOptions{Params: labParams}, func(*ReplayResult) bool { return true })
}

// BenchmarkReplayForReport is BenchmarkReplay keeping what kmswatch replay --html and tune ask
// for: the span of every record and the matches' keys.
func BenchmarkReplayForReport(b *testing.B) {
	benchReplay(b, ReplayOptions{Params: labParams, Span: true, MatchKeys: true},
		func(res *ReplayResult) bool { return !res.First().IsZero() })
}

// benchReplay writes the corpus and replays it with opt each iteration, failing unless every
// record was read without a problem and ok holds.
func benchReplay(b *testing.B, opt ReplayOptions, ok func(*ReplayResult) bool) {
	dir := b.TempDir()
	st, err := corpus.Write(dir, samplesDir, corpus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.JSONBytes)
	for b.Loop() {
		res := Replay([]string{dir}, opt)
		if res.Records != st.Records || len(res.Problems) > 0 || !ok(res) {
			b.Fatalf("replayed %d records of %d, problems %v", res.Records, st.Records, res.Problems)
		}
	}
}
