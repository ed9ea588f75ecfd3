// Package app is the domain of the kmswatch encrypt/decrypt service: the stored
// Secret, the Store and Crypto services, the Meter that counts outcomes,
// request validation and the error type.
// It imports no database, HTTP or AWS package; those live in subpackages named
// after the dependency they wrap (postgres, kms, secretsmanager, http, inmem).
package app

import (
	"context"
	"time"
)

// Secret is one stored record: the KMS ciphertext of a user's text, filed under Name.
type Secret struct {
	Name       string
	Ciphertext []byte
	UpdatedAt  time.Time
}

// Store keeps Secrets by Name. PutSecret replaces an earlier Secret of the same
// Name and returns only once the write is durable (committed).
type Store interface {
	PutSecret(ctx context.Context, s *Secret) error
	// FindSecret returns an Error with code ENOTFOUND for an unknown name.
	FindSecret(ctx context.Context, name string) (*Secret, error)
	// Ping reports whether the store can serve requests (readiness).
	Ping(ctx context.Context) error
}

// Crypto encrypts and decrypts texts bound to a record Name (the name is the
// encryption context, so a ciphertext only decrypts under the name it was stored as).
type Crypto interface {
	// Encrypt returns the ciphertext and the id of the key that encrypted it.
	Encrypt(ctx context.Context, name string, plaintext []byte) (ciphertext []byte, keyID string, err error)
	// Decrypt uses the caller's keyID; a wrong key is refused by the key service
	// (code EKEYREFUSED), never checked locally, so the refusal is audited there.
	// requestID is the key service's id for the call, which its audit log
	// records too (CloudTrail's requestID); empty if the service sent none.
	Decrypt(ctx context.Context, name, keyID string, ciphertext []byte) (plaintext []byte, requestID string, err error)
}

// SecretNotFound is the error a Store returns for an unknown name.
func SecretNotFound() error {
	return Errorf(ENOTFOUND, "No data stored under this Name")
}

// KeyRefusedMessage is the lab's answer when KMS refuses the caller's key.
const KeyRefusedMessage = "Data decryption failed, make sure you have the correct key"
