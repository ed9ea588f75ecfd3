package postgrestest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// None is the TEST_DATABASE_URL that says, explicitly, "run without a database": tests that need
// PostgreSQL skip, naming that choice. `make test-nodb` sets it; nothing else does.
const None = "none"

// Check connects to the test database and returns nil, or an error that says in one line what is
// missing and how to fix it: the server down, the database or the role missing, a password
// needed, or no right to create the schemas the tests make.
func Check(ctx context.Context, rawURL string) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return fmt.Errorf("TEST_DATABASE_URL %q is not a PostgreSQL URL (%w); want postgres://USER@HOST:PORT/DB", redact(rawURL), err)
	}
	where := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return diagnose(err, cfg, where)
	}
	defer conn.Close(ctx)
	var canCreate bool
	if err := conn.QueryRow(ctx, "SELECT has_database_privilege(current_user, current_database(), 'CREATE')").Scan(&canCreate); err != nil {
		return fmt.Errorf("PostgreSQL at %s answered but a first query failed: %w", where, err)
	}
	if !canCreate {
		return fmt.Errorf("role %q may not create schemas in database %q at %s, and the tests make one each: "+
			"GRANT CREATE ON DATABASE %s TO %s; (as a superuser), or set TEST_DATABASE_URL to a role that may",
			cfg.User, cfg.Database, where, cfg.Database, cfg.User)
	}
	return nil
}

// diagnose turns a connection error into the fix. SQLSTATEs:
// https://www.postgresql.org/docs/15/errcodes-appendix.html
func diagnose(err error, cfg *pgx.ConnConfig, where string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "3D000": // invalid_catalog_name: the database does not exist
			return fmt.Errorf("database %q does not exist at %s: create it with `createdb -h %s -p %d -U %s %s`, or set TEST_DATABASE_URL to one that exists",
				cfg.Database, where, cfg.Host, cfg.Port, cfg.User, cfg.Database)
		case "28000": // invalid_authorization_specification: the role does not exist (or no pg_hba.conf entry)
			if strings.Contains(pgErr.Message, "does not exist") {
				return fmt.Errorf("role %q does not exist at %s: create it with `createuser -h %s -p %d --superuser %s` (as an existing superuser), or set TEST_DATABASE_URL=postgres://ROLE@%s/%s with a role that exists",
					cfg.User, where, cfg.Host, cfg.Port, cfg.User, where, cfg.Database)
			}
			return fmt.Errorf("PostgreSQL at %s refused role %q: %s; allow it in pg_hba.conf or set TEST_DATABASE_URL to a role it accepts", where, cfg.User, pgErr.Message)
		case "28P01": // invalid_password
			return fmt.Errorf("PostgreSQL at %s wants a password for role %q: put it in TEST_DATABASE_URL (postgres://%s:PASSWORD@%s/%s) or in ~/.pgpass",
				where, cfg.User, cfg.User, where, cfg.Database)
		}
		return fmt.Errorf("PostgreSQL at %s refused the connection: %s (SQLSTATE %s)", where, pgErr.Message, pgErr.Code)
	}
	return fmt.Errorf("PostgreSQL is not answering at %s (%v): start it (e.g. `sudo service postgresql start`; Debian: `pg_ctlcluster <version> main start`), "+
		"or set TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB; `make test-nodb` runs only the tests that need no database",
		where, rootCause(err))
}

// rootCause is the dial error, e.g. "dial tcp 127.0.0.1:5432: connect: connection refused",
// without pgx's wrapping, which repeats it once per address tried.
func rootCause(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}

// redact hides a password in a URL before it is printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
