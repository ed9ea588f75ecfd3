package rules

import (
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules/corpus"
)

// BenchmarkReplayForReport is BenchmarkReplay keeping what kmswatch replay --html and tune ask
// for: the span of every record and the matches' keys.
func BenchmarkReplayForReport(b *testing.B) {
	dir := b.TempDir()
	st, err := corpus.Write(dir, samplesDir, corpus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.JSONBytes)
	b.ResetTimer()
	for b.Loop() {
		res := Replay([]string{dir}, ReplayOptions{Params: labParams, Span: true, MatchKeys: true})
		if res.Records != st.Records || len(res.Problems) > 0 || res.First().IsZero() {
			b.Fatalf("replayed %d records of %d, problems %v", res.Records, st.Records, res.Problems)
		}
	}
}
