// Command gencorpus writes the synthetic CloudTrail corpus that infra/scripts/replay-bench.sh
// times `kmswatch replay` on.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kmswatch/kmswatch/infra/rules/corpus"
)

func main() {
	files := flag.Int("files", 100, "number of gzip'd log files")
	records := flag.Int("records", 2000, "records per file")
	samples := flag.String("samples", "infra/rules/testdata/cloudtrail", "directory of sample CloudTrail records (*.json)")
	plain := flag.Bool("plain", false, "write plain .json files instead of gzip'd ones")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: gencorpus [--files N] [--records N] [--plain] [--samples DIR] DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	st, err := corpus.Write(flag.Arg(0), *samples, corpus.Options{Files: *files, RecordsPerFile: *records, Plain: *plain})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gencorpus: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d files, %d records, %.1f MB JSON, %.1f MB on disk\n", st.Files, st.Records, float64(st.JSONBytes)/1e6, float64(st.GzBytes)/1e6)
}
