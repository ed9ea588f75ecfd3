// Package inmem is an in-memory app.Store for offline rehearsals and handler
// tests. It is safe for concurrent use and copies what it stores, so callers
// cannot change a stored record through a slice they still hold.
package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/kmswatch/kmswatch/app"
)

// Store is an in-memory app.Store.
type Store struct {
	mu      sync.RWMutex
	secrets map[string]app.Secret
	now     func() time.Time
}

var _ app.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{secrets: make(map[string]app.Secret), now: time.Now}
}

// PutSecret stores a copy of s, replacing any earlier record of the same name.
func (st *Store) PutSecret(ctx context.Context, s *app.Secret) error {
	if err := ctx.Err(); err != nil {
		return &app.Error{Code: app.EUNAVAILABLE, Message: "Request cancelled", Err: err}
	}
	if err := app.ValidateName(s.Name); err != nil {
		return err
	}
	if len(s.Ciphertext) == 0 {
		return app.Errorf(app.EINVALID, "Ciphertext is required")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	stored := app.Secret{Name: s.Name, Ciphertext: clone(s.Ciphertext), UpdatedAt: st.now().UTC()}
	st.secrets[s.Name] = stored
	s.UpdatedAt = stored.UpdatedAt
	return nil
}

// FindSecret returns a copy of the record stored under name.
func (st *Store) FindSecret(ctx context.Context, name string) (*app.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, &app.Error{Code: app.EUNAVAILABLE, Message: "Request cancelled", Err: err}
	}
	st.mu.RLock()
	s, ok := st.secrets[name]
	st.mu.RUnlock()
	if !ok {
		return nil, app.SecretNotFound()
	}
	s.Ciphertext = clone(s.Ciphertext)
	return &s, nil
}

// Ping always succeeds: memory is always reachable.
func (st *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Len returns the number of stored records.
func (st *Store) Len() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.secrets)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
