package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate brings the schema up to date. A session-level advisory lock makes
// tasks that start together take turns; the loser finds nothing left to do.
func (db *DB) migrate(ctx context.Context) error {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(lockID(db.schema)),
		lock.WithLockTimeout(1, 60), // poll every second for a minute
	)
	if err != nil {
		return err
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		db.logger.Info("database migrated", "migration", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	return nil
}

// createSchema creates Options.Schema if set. CREATE SCHEMA IF NOT EXISTS is
// not safe against itself (two sessions can both try to insert it), so it runs
// under the migration lock's id as a transaction-level advisory lock.
func (db *DB) createSchema(ctx context.Context) error {
	if db.schema == "" {
		return nil
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockID(db.schema)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{db.schema}.Sanitize())
		return err
	})
}

// lockID separates the advisory locks of different schemas (parallel test
// runs) while every task of one deployment shares one lock.
func lockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("kmswatch-migrations:" + schema))
	return int64(h.Sum64() >> 1) //nolint:gosec // shifted right by one, so it fits in int64
}
