// Package postgres implements app.Store on PostgreSQL through a pgx pool.
// Every statement is parameterized; every call has a deadline; a lost
// connection or rejected credentials (rotated secret) are retried.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kmswatch/kmswatch/app"
)

// Defaults for Options.
const (
	DefaultApplicationName = "kmswatch-app"
	DefaultMaxConns        = 16
	DefaultQueryTimeout    = 5 * time.Second
)

// CredentialSource supplies the user and password for new connections
// (secretsmanager.CredentialSource). Generation identifies the credentials
// handed out now; Invalidate(generation) reports them rejected.
type CredentialSource interface {
	Credentials(ctx context.Context) (username, password string, err error)
	Generation() uint64
	Invalidate(generation uint64)
}

// Options configure Open. Zero values take the defaults above.
type Options struct {
	// URL is a PostgreSQL connection string; with Credentials set, the user and
	// password in it are replaced before every new connection.
	URL         string
	Credentials CredentialSource
	// Schema, if set, is created if missing and used as the search_path
	// (tests use one fresh schema per run).
	Schema          string
	ApplicationName string // shows in pg_stat_activity; default: the URL's, else DefaultApplicationName
	MaxConns        int32
	QueryTimeout    time.Duration // per statement, retries included
	Logger          *slog.Logger
}

// DB is the PostgreSQL store. It implements app.Store.
type DB struct {
	pool         *pgxpool.Pool
	creds        CredentialSource
	schema       string
	queryTimeout time.Duration
	logger       *slog.Logger
}

var _ app.Store = (*DB)(nil)

// Open connects and migrates the schema. It retries while the database is
// unreachable or rejects the credentials, until ctx ends (the start-up budget).
func Open(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err) // pgx redacts the password
	}
	db := &DB{
		creds:        opts.Credentials,
		schema:       opts.Schema,
		queryTimeout: orDefault(opts.QueryTimeout, DefaultQueryTimeout),
		logger:       opts.Logger,
	}
	if db.logger == nil {
		db.logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxConns = orDefault(opts.MaxConns, DefaultMaxConns)
	if opts.ApplicationName != "" || cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = orDefault(opts.ApplicationName, DefaultApplicationName)
	}
	cfg.ConnConfig.ConnectTimeout = orDefault(cfg.ConnConfig.ConnectTimeout, db.queryTimeout)
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	if db.creds != nil {
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, password, err := db.creds.Credentials(ctx)
			if err != nil {
				return fmt.Errorf("%w: %w", errNoCredentials, err)
			}
			cc.User, cc.Password = user, password
			return nil
		}
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	err = db.retryUntil(ctx, func(ctx context.Context) error {
		if err := db.createSchema(ctx); err != nil {
			return err
		}
		return db.migrate(ctx)
	})
	if err != nil {
		db.pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes all connections.
func (db *DB) Close() { db.pool.Close() }

// Pool exposes the pool for tests and diagnostics.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// errorKind says what a failed statement means for a retry.
type errorKind int

const (
	failed       errorKind = iota // the statement failed: retrying won't help
	connLost                      // the connection broke or the server is unreachable
	authRejected                  // the server rejected the credentials (rotated secret?)
)

func classify(err error) errorKind {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "28P01" || pgErr.Code == "28000": // invalid_password, invalid_authorization_specification
			return authRejected
		case strings.HasPrefix(pgErr.Code, "08"), pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03":
			return connLost // connection exception; admin/crash shutdown; cannot connect now
		}
		return failed
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connectErr): // refused, unreachable, or connect timed out
		return connLost
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return failed // the statement ran out of time: not a broken connection
	case pgconn.SafeToRetry(err), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return connLost
	}
	return failed
}

// errNoCredentials marks a failure to get the credentials (Secrets Manager
// down or refusing): the database is unavailable, not broken.
var errNoCredentials = errors.New("database credentials unavailable")

// retryable reports whether a new attempt may succeed: after a lost
// connection, or after rejected credentials if they come from a secret that
// may have been rotated (a fixed DATABASE_URL will not get better).
func (db *DB) retryable(err error) bool {
	switch classify(err) {
	case connLost:
		return true
	case authRejected:
		return db.creds != nil
	}
	return false
}

const requestAttempts = 3

// run executes one idempotent operation with the query deadline. Lost
// connections are dropped from the pool and the operation retried; rejected
// credentials are invalidated so the next connection fetches the secret again.
func (db *DB) run(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, db.queryTimeout)
	defer cancel()
	var err error
	for attempt := 1; attempt <= requestAttempts; attempt++ {
		if err = db.attempt(ctx, op); err == nil || !db.retryable(err) || ctx.Err() != nil {
			break
		}
		db.logger.Warn("database call failed, retrying", "attempt", attempt, "error", err.Error())
	}
	return storeError(err)
}

// retryUntil retries op with backoff until it succeeds, fails for good, or ctx ends.
func (db *DB) retryUntil(ctx context.Context, op func(context.Context) error) error {
	backoff := 250 * time.Millisecond
	for {
		err := db.attempt(ctx, op)
		if err == nil || !db.retryable(err) {
			return err
		}
		db.logger.Warn("database not ready, retrying", "error", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("database not ready: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (db *DB) attempt(ctx context.Context, op func(context.Context) error) error {
	var generation uint64
	if db.creds != nil {
		generation = db.creds.Generation()
	}
	err := op(ctx)
	switch classify(err) {
	case authRejected:
		if db.creds != nil {
			db.creds.Invalidate(generation)
		}
	case connLost:
		// One broken connection usually means all broke (failover, restart):
		// close the idle ones now rather than meet them one request at a time.
		db.pool.Reset()
	}
	return err
}

// storeError maps a database error to the domain. Messages never carry SQL
// parameters: pgx errors hold the server's message, not the statement's arguments.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case classify(err) != failed, errors.Is(err, errNoCredentials),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &app.Error{Code: app.EUNAVAILABLE, Message: "Database unavailable, try again later", Err: err}
	}
	return &app.Error{Code: app.EINTERNAL, Message: "Internal error", Err: err}
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
