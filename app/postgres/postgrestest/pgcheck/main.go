// Command pgcheck is `make test`'s first step: it checks that the test database
// (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) can be used, and otherwise
// stops the run with one line that says what is missing and how to fix it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/kmswatch/kmswatch/app/postgres/postgrestest"
)

func main() {
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		url = postgrestest.DefaultURL
	}
	if url == postgrestest.None {
		fmt.Fprintln(os.Stderr, "make test: TEST_DATABASE_URL=none: the tests that need PostgreSQL will skip, by choice")
		return
	}
	if err := postgrestest.Check(context.Background(), url); err != nil {
		fmt.Fprintf(os.Stderr, "make test: %v\n", err)
		os.Exit(1)
	}
}
