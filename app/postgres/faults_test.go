package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/app/postgres"
	"github.com/kmswatch/kmswatch/app/postgres/postgrestest"
	"github.com/kmswatch/kmswatch/app/secretsmanager"
)

func randomSuffix(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// superuser runs setup statements on its own connection.
func superuser(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// terminate kills the server processes of every connection with appName. It returns the error
// rather than failing the test, because it runs on a goroutine of its own.
func terminate(conn *pgx.Conn, appName string) (int, error) {
	var n int
	err := conn.QueryRow(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n)
	return n, err
}

// TestConnectionsKilledMidRun: 8 workers write and read while every backend
// of the app is terminated again and again; the pool recovers by itself.
func TestConnectionsKilledMidRun(t *testing.T) {
	appName := "kmswatch-test-" + randomSuffix(t)
	db := postgrestest.Open(t, postgres.Options{ApplicationName: appName})
	admin := superuser(t, postgrestest.URL(t))
	ctx := context.Background()

	stop := make(chan struct{})
	var killed atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				n, err := terminate(admin, appName)
				if err != nil {
					t.Errorf("terminating backends: %v", err)
					return
				}
				killed.Add(int64(n))
			}
		}
	}()

	var wg sync.WaitGroup
	var stored sync.Map
	var okOps, failedOps atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				err := db.PutSecret(ctx, &app.Secret{Name: name, Ciphertext: []byte(name)})
				if err == nil {
					stored.Store(name, true)
					_, err = db.FindSecret(ctx, name)
				}
				switch {
				case err == nil:
					okOps.Add(1)
				case app.ErrorCode(err) == app.EUNAVAILABLE:
					failedOps.Add(1)
				default:
					t.Errorf("%s: %v (want success or EUNAVAILABLE)", name, err)
					return
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	<-killerDone

	if killed.Load() == 0 {
		t.Fatal("no backend was terminated: the test tested nothing")
	}
	t.Logf("%d backends killed; %d operations ok, %d unavailable", killed.Load(), okOps.Load(), failedOps.Load())
	if failedOps.Load() > okOps.Load()/20 {
		t.Errorf("%d of %d operations failed: recovery is too slow", failedOps.Load(), okOps.Load()+failedOps.Load())
	}
	// After the storm every acknowledged write is there and the pool works.
	want := 0
	stored.Range(func(k, _ any) bool {
		want++
		if _, err := db.FindSecret(ctx, k.(string)); err != nil {
			t.Errorf("acknowledged write %s lost: %v", k, err)
		}
		return true
	})
	if n, err := db.CountSecrets(ctx); err != nil || n != want {
		t.Errorf("CountSecrets = %d, %v; want %d", n, err, want)
	}
}

type rotationFixture struct {
	double *awsdouble.Server
	creds  *secretsmanager.CredentialSource
	url    string
	admin  *pgx.Conn
}

// newRotationFixture serves the Secrets Manager double and creates login roles
// that the test drops again. Local PostgreSQL trusts every password, so a
// "rejected credential" is a role that does not exist or may not log in.
func newRotationFixture(t *testing.T) *rotationFixture {
	double := awsdouble.New(awsdouble.Options{})
	ts := httptest.NewServer(double)
	t.Cleanup(ts.Close)
	client := awssm.NewFromConfig(awsdouble.ClientConfig(ts.URL))
	url := postgrestest.URL(t)
	return &rotationFixture{
		double: double,
		creds:  secretsmanager.New(client, "rds-master", 0),
		url:    url,
		admin:  superuser(t, url),
	}
}

// createRole creates a login role allowed to create schemas; dropped at test end.
func (f *rotationFixture) createRole(t *testing.T, role string, memberOf string) {
	t.Helper()
	var dbName string
	if err := f.admin.QueryRow(context.Background(), "SELECT current_database()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	id := pgx.Identifier{role}.Sanitize()
	mustExec(t, f.admin, "CREATE ROLE "+id+" LOGIN")
	mustExec(t, f.admin, "GRANT CREATE, CONNECT ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" TO "+id)
	if memberOf != "" {
		mustExec(t, f.admin, "GRANT "+pgx.Identifier{memberOf}.Sanitize()+" TO "+id)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, f.url)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		for _, sql := range []string{"DROP OWNED BY " + id + " CASCADE", "DROP ROLE " + id} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})
}

func secretJSON(user string) string {
	return fmt.Sprintf(`{"username":%q,"password":"unused-with-trust-auth"}`, user)
}

// TestRotatedSecretIsFetchedAgain: the cached user loses its login (as after an
// RDS rotation); the next request is rejected (28000), invalidates the cache,
// fetches the new secret and succeeds. Two GetSecretValue calls in all.
func TestRotatedSecretIsFetchedAgain(t *testing.T) {
	f := newRotationFixture(t)
	suffix := randomSuffix(t)
	oldRole, newRole := "kmswatch_rot_old_"+suffix, "kmswatch_rot_new_"+suffix
	f.createRole(t, oldRole, "")
	f.createRole(t, newRole, oldRole) // inherits the old role's tables
	f.double.PutSecret("rds-master", secretJSON(oldRole))

	appName := "kmswatch-rot-" + suffix
	db := postgrestest.Open(t, postgres.Options{URL: f.url, Credentials: f.creds, ApplicationName: appName})
	ctx := context.Background()
	if err := db.PutSecret(ctx, &app.Secret{Name: "alice", Ciphertext: []byte{1}}); err != nil {
		t.Fatal(err)
	}

	f.double.PutSecret("rds-master", secretJSON(newRole))
	mustExec(t, f.admin, "ALTER ROLE "+pgx.Identifier{oldRole}.Sanitize()+" NOLOGIN")
	if _, err := terminate(f.admin, appName); err != nil {
		t.Fatal(err)
	}

	if _, err := db.FindSecret(ctx, "alice"); err != nil {
		t.Fatalf("FindSecret after rotation: %v", err)
	}
	if n := f.double.Calls("GetSecretValue"); n != 2 {
		t.Fatalf("GetSecretValue calls = %d, want 2 (start-up + one refresh)", n)
	}
	var user string
	if err := db.Pool().QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != newRole {
		t.Fatalf("connected as %q (%v), want %q", user, err, newRole)
	}
}

// TestUnknownUserThenFixedSecret: start-up meets a secret naming a role that
// does not exist (28000); once the secret is replaced, start-up completes.
func TestUnknownUserThenFixedSecret(t *testing.T) {
	f := newRotationFixture(t)
	role := "kmswatch_fix_" + randomSuffix(t)
	f.createRole(t, role, "")
	f.double.PutSecret("rds-master", secretJSON("kmswatch_no_such_role"))

	var fixOnce sync.Once
	logger := slog.New(&onLogHandler{fn: func(r slog.Record) {
		if r.Message == "database not ready, retrying" {
			fixOnce.Do(func() { f.double.PutSecret("rds-master", secretJSON(role)) })
		}
	}})
	db := postgrestest.Open(t, postgres.Options{URL: f.url, Credentials: f.creds, Logger: logger})
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.double.Calls("GetSecretValue"); n != 2 {
		t.Fatalf("GetSecretValue calls = %d, want 2 (bad secret, then the fixed one)", n)
	}
}

// onLogHandler calls fn for each log record (to act at a precise moment).
type onLogHandler struct{ fn func(slog.Record) }

func (h *onLogHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h *onLogHandler) Handle(_ context.Context, r slog.Record) error { h.fn(r); return nil }
func (h *onLogHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h *onLogHandler) WithGroup(string) slog.Handler                 { return h }

// TestSecretUnavailable: when Secrets Manager cannot give the credentials,
// requests are unavailable (503), not internal errors.
func TestSecretUnavailable(t *testing.T) {
	f := newRotationFixture(t)
	role := "kmswatch_sm_" + randomSuffix(t)
	f.createRole(t, role, "")
	f.double.PutSecret("rds-master", secretJSON(role))
	appName := "kmswatch-sm-" + randomSuffix(t)
	db := postgrestest.Open(t, postgres.Options{URL: f.url, Credentials: f.creds, ApplicationName: appName})

	// The secret vanishes and the database rejects the cached user.
	f.double.InjectFault(awsdouble.Fault{Operation: "GetSecretValue", ErrorType: "AccessDeniedException", Times: 100})
	mustExec(t, f.admin, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" NOLOGIN")
	if _, err := terminate(f.admin, appName); err != nil {
		t.Fatal(err)
	}
	err := db.Ping(context.Background())
	if app.ErrorCode(err) != app.EUNAVAILABLE || !strings.Contains(err.Error(), "credentials unavailable: get secret value: AccessDeniedException") {
		t.Fatalf("Ping = %v, want EUNAVAILABLE for want of credentials", err)
	}
}

// TestWrongUserInURLFailsFast: a fixed DATABASE_URL whose user is refused
// is not retried until the start-up budget runs out.
func TestWrongUserInURLFailsFast(t *testing.T) {
	parsed, err := neturl.Parse(postgrestest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = neturl.User("kmswatch_no_such_role")
	u := parsed.String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = postgres.Open(ctx, postgres.Options{URL: u})
	if err == nil {
		t.Fatal("Open succeeded with a role that does not exist")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Open took %v: rejected fixed credentials were retried", elapsed)
	}
}
