package postgres_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/postgres"
	"github.com/kmswatch/kmswatch/app/postgres/postgrestest"
)

func TestPutFind_ReplaceKeepsOneRow(t *testing.T) {
	db := postgrestest.Open(t, postgres.Options{})
	ctx := context.Background()
	first := &app.Secret{Name: "alice", Ciphertext: []byte{1, 2, 3}}
	if err := db.PutSecret(ctx, first); err != nil {
		t.Fatal(err)
	}
	if first.UpdatedAt.IsZero() {
		t.Error("PutSecret did not report the commit time")
	}
	if err := db.PutSecret(ctx, &app.Secret{Name: "alice", Ciphertext: []byte{4, 5}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindSecret(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Ciphertext, []byte{4, 5}) || got.Name != "alice" {
		t.Fatalf("got %+v, want the replacement", got)
	}
	if n, err := db.CountSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("CountSecrets = %d, %v; want 1", n, err)
	}
}

func TestFind_NamesAreDataNotSQL(t *testing.T) {
	db := postgrestest.Open(t, postgres.Options{})
	ctx := context.Background()
	hostile := "'; DROP TABLE secrets; --"
	for _, name := range []string{"alice", hostile, "ünïcödé 🔑"} {
		if err := db.PutSecret(ctx, &app.Secret{Name: name, Ciphertext: []byte(name)}); err != nil {
			t.Fatalf("PutSecret(%q): %v", name, err)
		}
	}
	for _, name := range []string{"' OR 1=1 --", "alice' --", "%", "ALICE"} {
		if _, err := db.FindSecret(ctx, name); app.ErrorCode(err) != app.ENOTFOUND {
			t.Errorf("FindSecret(%q) = %v, want ENOTFOUND", name, err)
		}
	}
	got, err := db.FindSecret(ctx, hostile)
	if err != nil || string(got.Ciphertext) != hostile {
		t.Fatalf("FindSecret(hostile) = %v, %v", got, err)
	}
	if n, _ := db.CountSecrets(ctx); n != 3 {
		t.Fatalf("CountSecrets = %d, want 3", n)
	}
}

// TestOpen_ConcurrentStartups: tasks starting together on one database take
// turns on the migration lock; all succeed and the schema is migrated once.
func TestOpen_ConcurrentStartups(t *testing.T) {
	url := postgrestest.URL(t)
	schema := postgrestest.NewSchema(t, url)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: schema})
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	db := postgrestest.Open(t, postgres.Options{URL: url, Schema: schema}) // and once more, idempotent
	var applied int
	err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied)
	if err != nil || applied != 1 {
		t.Fatalf("migration 1 recorded %d times (%v), want once", applied, err)
	}
}

func TestStoreErrors(t *testing.T) {
	db := postgrestest.Open(t, postgres.Options{QueryTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	// Constraint violations are bugs (inputs are validated first): internal, not retried.
	if err := db.PutSecret(ctx, &app.Secret{Name: "", Ciphertext: []byte{1}}); app.ErrorCode(err) != app.EINTERNAL {
		t.Errorf("empty name: %v, want EINTERNAL", err)
	}
	// A lock held elsewhere makes the statement outlive its deadline: unavailable.
	conn, err := pgx.Connect(ctx, postgrestest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := db.Pool().Config().ConnConfig.RuntimeParams["search_path"]
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "LOCK TABLE "+schema+".secrets IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := db.FindSecret(ctx, "alice"); app.ErrorCode(err) != app.EUNAVAILABLE {
		t.Errorf("blocked FindSecret: %v, want EUNAVAILABLE", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("blocked FindSecret took %v with a 200ms deadline", elapsed)
	}
}

func TestOpen_BadURL(t *testing.T) {
	ctx := context.Background()
	_, err := postgres.Open(ctx, postgres.Options{URL: "postgres://u:hunter2@127.0.0.1:5432/db?sslmode=bogus"})
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("hunter2")) {
		t.Fatalf("err = %v, want an error without the password", err)
	}
}
