package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/kmswatch/kmswatch/app"
)

// PutSecret stores s, replacing an earlier record of the same name. It
// returns after the (autocommit) statement committed. Retrying is safe: the
// upsert writes the same row again.
func (db *DB) PutSecret(ctx context.Context, s *app.Secret) error {
	return db.run(ctx, func(ctx context.Context) error {
		return db.pool.QueryRow(ctx, `
			INSERT INTO secrets (name, ciphertext) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = now()
			RETURNING updated_at`,
			s.Name, s.Ciphertext,
		).Scan(&s.UpdatedAt)
	})
}

// FindSecret returns the record stored under name.
func (db *DB) FindSecret(ctx context.Context, name string) (*app.Secret, error) {
	s := &app.Secret{Name: name}
	err := db.run(ctx, func(ctx context.Context) error {
		err := db.pool.QueryRow(ctx, `SELECT ciphertext, updated_at FROM secrets WHERE name = $1`, name).
			Scan(&s.Ciphertext, &s.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNotFound
		}
		return err
	})
	if errors.Is(err, errNotFound) {
		return nil, app.SecretNotFound()
	}
	return s, err
}

var errNotFound = errors.New("no such secret")

// Ping checks that a connection can be had and answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.run(ctx, db.pool.Ping)
}

// CountSecrets returns the number of stored records (tests, diagnostics).
func (db *DB) CountSecrets(ctx context.Context) (int, error) {
	var n int
	err := db.run(ctx, func(ctx context.Context) error {
		return db.pool.QueryRow(ctx, `SELECT count(*) FROM secrets`).Scan(&n)
	})
	return n, err
}
