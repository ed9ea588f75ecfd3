// Package secretsmanager fetches the database credentials from AWS Secrets
// Manager once and keeps them until the database rejects them: RDS rotates its
// managed master secret, so a rejection means "fetch again", not "give up".
// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
package secretsmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// DefaultTimeout bounds one GetSecretValue call, retries included.
const DefaultTimeout = 5 * time.Second

// Credentials is the RDS-managed secret's JSON: {"username": ..., "password": ...}.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// CredentialSource caches one secret's credentials. It is safe for concurrent use.
type CredentialSource struct {
	client   *secretsmanager.Client
	secretID string
	timeout  time.Duration

	mu         sync.Mutex // held during a fetch, so concurrent callers share it
	cached     *Credentials
	generation uint64 // counts fetches; lets Invalidate ignore stale reports
}

// New returns a CredentialSource for secretID (name or ARN).
func New(client *secretsmanager.Client, secretID string, timeout time.Duration) *CredentialSource {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &CredentialSource{client: client, secretID: secretID, timeout: timeout}
}

// Credentials returns the cached credentials, fetching them if there are none.
func (s *CredentialSource) Credentials(ctx context.Context) (username, password string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == nil {
		if err := s.fetch(ctx); err != nil {
			return "", "", err
		}
	}
	return s.cached.Username, s.cached.Password, nil
}

// Generation identifies the credentials handed out now. Read it before
// using them, pass it to Invalidate after the database rejected them.
func (s *CredentialSource) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generation
}

// Invalidate drops the cached credentials if they are still those of
// generation, so the next Credentials call fetches the secret again. A report
// about older credentials (another caller already refetched) changes nothing.
func (s *CredentialSource) Invalidate(generation uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.generation == generation {
		s.cached = nil
	}
}

func (s *CredentialSource) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			return fmt.Errorf("get secret value: %s", apiErr.ErrorCode()) // messages may quote the secret id only, but keep logs terse
		}
		return fmt.Errorf("get secret value: %w", err)
	}
	var creds Credentials
	if out.SecretString == nil {
		return errors.New("get secret value: the secret has no SecretString")
	}
	if err := json.Unmarshal([]byte(*out.SecretString), &creds); err != nil {
		// Never wrap the JSON error: it could quote part of the password.
		return errors.New(`get secret value: the secret is not JSON {"username": ..., "password": ...}`)
	}
	if creds.Username == "" {
		return errors.New(`get secret value: the secret has no "username"`)
	}
	s.cached = &creds
	s.generation++
	return nil
}
