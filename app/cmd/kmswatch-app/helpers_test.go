package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/app/internal/logtest"
	"github.com/kmswatch/kmswatch/app/postgres/postgrestest"
)

// TestMain lets a test re-run this binary as the real program (see
// TestSIGTERMDrainsAndExits): with KMSWATCH_APP_RUN_MAIN=1 it is main().
func TestMain(m *testing.M) {
	if os.Getenv("KMSWATCH_APP_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// stack is one test's KMS double, database schema and app environment.
type stack struct {
	double   *awsdouble.Server
	key      awsdouble.Key
	kmsURL   string
	dbURL    string // the test database, admin access
	schema   string
	appName  string // application_name of the app's connections
	env      map[string]string
	logs     *logtest.Buffer
	admin    *pgx.Conn
	kmsFront *gate
}

// newStack serves a KMS + Secrets Manager double, creates a fresh schema and
// points the SDK at the double through AWS_ENDPOINT_URL, as on a laptop.
func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{double: awsdouble.New(awsdouble.Options{}), logs: &logtest.Buffer{}}
	s.kmsFront = &gate{next: s.double}
	ts := httptest.NewServer(s.kmsFront)
	t.Cleanup(ts.Close)
	s.kmsURL = ts.URL
	s.key = s.double.CreateKey("alias/kmswatch-local")
	t.Setenv("AWS_ENDPOINT_URL", ts.URL)
	// The app runs as the double's ECS task does: with its task role session's credentials.
	t.Setenv("AWS_ACCESS_KEY_ID", awsdouble.DefaultCredentials.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsdouble.DefaultCredentials.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", awsdouble.DefaultCredentials.SessionToken)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	s.dbURL = postgrestest.URL(t)
	s.schema = postgrestest.NewSchema(t, s.dbURL)
	conn, err := pgx.Connect(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	s.admin = conn
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	s.appName = "kmswatch-it-" + randomHex(t, 4)
	u, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", s.schema)
	q.Set("application_name", s.appName)
	u.RawQuery = q.Encode()
	s.env = map[string]string{
		"PORT":         "0",
		"KMS_KEY_ID":   s.key.ID,
		"AWS_REGION":   "us-east-1",
		"DATABASE_URL": u.String(),
	}
	return s
}

// start runs the app in-process until the test ends; it returns its base URL.
func (s *stack) start(t *testing.T) string {
	t.Helper()
	cfg, err := LoadConfig(s.env)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, cancel := context.WithCancel(context.Background())
	m, err := Open(ctx, cfg, logger, s.logs)
	if err != nil {
		cancel()
		t.Fatalf("start app: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		closeClientConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app Run: %v", err)
		}
	})
	return "http://" + strings.Replace(m.Addr(), "[::]", "127.0.0.1", 1)
}

// rows counts the stored records.
func (s *stack) rows(t *testing.T) int {
	t.Helper()
	var n int
	err := s.admin.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{s.schema, "secrets"}.Sanitize()).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// call sends a JSON request like the lab's curl and decodes the JSON answer,
// failing the test on a transport error. Only on the test's goroutine: others use send.
func call(t testing.TB, client *http.Client, method, url, body string) (int, map[string]string) {
	t.Helper()
	status, answer, err := send(client, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, answer
}

// send is call for any goroutine: it returns what went wrong instead of
// stopping the test (t.Fatal must run on the test's own goroutine).
func send(client *http.Client, method, url, body string) (int, map[string]string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading answer %d: %w", method, url, resp.StatusCode, err)
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, nil, fmt.Errorf("%s %s: answer %d is not a JSON object of strings: %q", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, m, nil
}

func jsonBody(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// gate sits in front of the KMS double; while closed it holds requests
// (and reports each arrival on held) until opened.
type gate struct {
	next http.Handler
	mu   sync.Mutex
	wait chan struct{} // nil: open
	held chan struct{}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	wait, held := g.wait, g.held
	g.mu.Unlock()
	if wait != nil {
		held <- struct{}{}
		<-wait
	}
	g.next.ServeHTTP(w, r)
}

func (g *gate) close() (held <-chan struct{}, open func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	wait, h := make(chan struct{}), make(chan struct{}, 16)
	g.wait, g.held = wait, h
	return h, func() {
		g.mu.Lock()
		g.wait = nil
		g.mu.Unlock()
		close(wait)
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// closeClientConnections drops the client's idle connections before the app
// shuts down. A connection the client dialled but never used is "new" to the
// server, and http.Server.Shutdown waits 5s before treating it as idle.
func closeClientConnections() { httpClient.CloseIdleConnections() }
