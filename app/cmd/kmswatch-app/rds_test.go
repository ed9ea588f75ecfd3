package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app/internal/logtest"
)

// TestRDSSecretConfiguration runs the program's own run() with the
// configuration ECS gives it in AWS: the endpoint in DB_HOST, DB_PORT and
// DB_NAME, the credentials in the RDS-managed secret named by DB_SECRET_ARN,
// and KMS and Secrets Manager behind AWS_ENDPOINT_URL. The secret is read
// once, however many connections and requests follow.
func TestRDSSecretConfiguration(t *testing.T) {
	s := newStack(t) // the double behind AWS_ENDPOINT_URL, static AWS credentials, an admin connection
	role, password := newLoginRole(t, s.admin)
	secretARN := s.double.PutSecret("rds!db-kmswatch-"+randomHex(t, 4),
		fmt.Sprintf(`{"username":%q,"password":%q}`, role, password))
	db, err := pgx.ParseConfig(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PORT":          "0",
		"KMS_KEY_ID":    s.key.ID,
		"AWS_REGION":    "us-east-1",
		"DB_SECRET_ARN": secretARN,
		"DB_HOST":       db.Host,
		"DB_PORT":       strconv.Itoa(int(db.Port)),
		"DB_NAME":       db.Database,
		"DB_SSLMODE":    "disable",
	}
	logs := &logtest.Buffer{}
	base := runMain(t, env, logs)

	const records = 4
	for i := range records {
		name := fmt.Sprintf("rds-%d", i)
		if status, got := call(t, httpClient, "POST", base+"/encrypt", jsonBody("Name", name, "Text", "text "+name)); status != 200 {
			t.Fatalf("encrypt %s = %d %v", name, status, got)
		}
	}
	// Concurrent decrypts make the pool open more connections, each asking for credentials.
	var wg sync.WaitGroup
	for i := range records {
		for _, method := range []string{"GET", "POST"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("rds-%d", i)
				status, got, err := send(httpClient, method, base+"/decrypt", jsonBody("Name", name, "Key", s.key.ARN))
				if err != nil || status != 200 || got["Text"] != "text "+name {
					t.Errorf("%s /decrypt %s = %d %v %v", method, name, status, got, err)
				}
			}()
		}
	}
	wg.Wait()

	if n := s.double.Calls("GetSecretValue"); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1 (the secret is cached across connections)", n)
	}
	var backends, rows int
	ctx := context.Background()
	if err := s.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, role).Scan(&backends); err != nil {
		t.Fatal(err)
	}
	if backends < 2 {
		t.Errorf("%d connections as %s, want at least 2 (start-up alone opens two)", backends, role)
	}
	if err := s.admin.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{role, "secrets"}.Sanitize()).Scan(&rows); err != nil {
		t.Fatalf("the records are not in the secret's user's schema: %v", err)
	}
	if rows != records {
		t.Errorf("rows = %d, want %d", rows, records)
	}
	if !strings.Contains(logs.String(), `"database":"DB_SECRET_ARN"`) {
		t.Errorf("start-up did not log the DB_SECRET_ARN mode: %s", logs)
	}
	if strings.Contains(logs.String(), password) {
		t.Error("logs contain the database password")
	}
}

// newLoginRole creates a login role with a random password and a schema of
// its own, its search_path, so the app's tables stay out of public. Both are
// dropped when the test ends, after the app (cleanups run in reverse).
func newLoginRole(t *testing.T, admin *pgx.Conn) (role, password string) {
	t.Helper()
	role, password = "kmswatch_it_"+randomHex(t, 4), randomHex(t, 16)
	ident := pgx.Identifier{role}.Sanitize()
	ctx := context.Background()
	for _, stmt := range []string{
		"CREATE ROLE " + ident + " LOGIN PASSWORD '" + password + "'", // hex: nothing to quote
		"CREATE SCHEMA " + ident + " AUTHORIZATION " + ident,
		"ALTER ROLE " + ident + " SET search_path TO " + ident,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("setting up role %s: %v (TEST_DATABASE_URL's user must be allowed to create roles)", role, err)
		}
	}
	t.Cleanup(func() {
		for _, stmt := range []string{
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role + "'",
			"DROP SCHEMA " + ident + " CASCADE",
			"DROP ROLE " + ident,
		} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Errorf("cleaning up role %s: %v", role, err)
			}
		}
	})
	return role, password
}

// runMain runs run(), the program minus signals and os.Exit, in process with
// env until the test ends; it returns the base URL once it listens.
func runMain(t *testing.T, env map[string]string, stdout *logtest.Buffer) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &logtest.Buffer{}
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, env, stdout, stderr) }()
	t.Cleanup(func() {
		closeClientConnections()
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("run exited %d; stderr %q", code, stderr)
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if addr := listeningAddr(stdout.String()); addr != "" {
			return "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1)
		}
		select {
		case code := <-exited:
			exited <- code // for the cleanup
			t.Fatalf("run exited %d before listening; stderr %q", code, stderr)
		case <-deadline:
			t.Fatalf("not listening after 30s; logs:\n%s", stdout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listeningAddr finds the address in the "listening" start-up line.
func listeningAddr(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
			return l.Addr
		}
	}
	return ""
}
