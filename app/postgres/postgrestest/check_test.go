package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestCheckNamesTheFix runs Check against the real server with one thing wrong at a time; each
// verdict must name what is missing and the command or setting that fixes it.
func TestCheckNamesTheFix(t *testing.T) {
	base := URL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	with := func(edit func(*url.URL)) string {
		c := *u
		edit(&c)
		return c.String()
	}
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	noCreate := roleWithoutCreate(t, base)

	tests := []struct {
		name string
		url  string
		want []string // every one must be in the message; nil: no error
	}{
		{"the test database works", base, nil},
		{"server down", with(func(c *url.URL) { c.Host = closedPort }), []string{"not answering at " + closedPort, "pg_ctlcluster", "TEST_DATABASE_URL", "make test-nodb"}},
		{"database missing", with(func(c *url.URL) { c.Path = "/kmswatch_no_such_db" }), []string{`database "kmswatch_no_such_db" does not exist`, "createdb", "kmswatch_no_such_db"}},
		{"role missing", with(func(c *url.URL) { c.User = url.User("kmswatch_no_such_role") }), []string{`role "kmswatch_no_such_role" does not exist`, "createuser", "TEST_DATABASE_URL"}},
		{"role may not create schemas", with(func(c *url.URL) { c.User = url.User(noCreate) }), []string{"may not create schemas", "GRANT CREATE ON DATABASE"}},
		{"not a URL", "postgres://[::1", []string{"not a PostgreSQL URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(context.Background(), tc.url)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check = nil, want an error naming the fix")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines, want one: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// roleWithoutCreate makes a login role that may connect to the test database but not create in it.
func roleWithoutCreate(t *testing.T, base string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "kmswatch_nocreate_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN NOSUPERUSER NOCREATEDB"); err != nil {
		t.Fatalf("create role (TEST_DATABASE_URL's user must be allowed to create roles): %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}

func TestRedactHidesThePassword(t *testing.T) {
	got := redact("postgres://alice:s3cret@db:5432/test")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "alice") {
		t.Errorf("redact = %q", got)
	}
}
