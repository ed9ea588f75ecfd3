// Package postgrestest gives tests a real PostgreSQL store in a fresh schema.
// TEST_DATABASE_URL picks the server (default postgres://postgres@127.0.0.1:5432/test).
// Without a server the test fails, saying what is missing and how to fix it; only the explicit
// TEST_DATABASE_URL=none (make test-nodb) skips, and says so.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app/postgres"
)

// DefaultURL is the local test database.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test"

// URL returns the test database URL after checking the server answers.
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	switch url {
	case "":
		url = DefaultURL
	case None:
		tb.Skip("needs PostgreSQL; skipped by choice: TEST_DATABASE_URL=none (make test-nodb)")
	}
	if err := Check(context.Background(), url); err != nil {
		tb.Fatalf("this test needs PostgreSQL: %v", err)
	}
	return url
}

// NewSchema returns a unique schema name, dropped with its tables when the test ends.
func NewSchema(tb testing.TB, url string) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "kmswatch_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// Open returns a migrated store in a fresh schema, closed when the test ends.
// opts.URL and opts.Schema are filled in when empty.
func Open(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	if opts.URL == "" {
		opts.URL = URL(tb)
	}
	if opts.Schema == "" {
		opts.Schema = NewSchema(tb, opts.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}
