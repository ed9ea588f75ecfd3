package http

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kmswatch/kmswatch/app"
)

// EncryptedMessage is the lab's answer to a stored encryption.
const EncryptedMessage = "Data encrypted and stored, keep your key safe"

// handleEncrypt encrypts Text under the configured key, bound to Name, and
// answers only after the record has been committed.
func (s *Server) handleEncrypt(c *gin.Context) {
	req, err := s.readEncryptRequest(c.Request)
	if err != nil {
		s.encryptFailed(c, "", err)
		return
	}
	ctx := c.Request.Context()
	ciphertext, keyID, err := s.crypto.Encrypt(ctx, req.Name, []byte(req.Text))
	if err != nil {
		s.encryptFailed(c, req.Name, err)
		return
	}
	if err := s.store.PutSecret(ctx, &app.Secret{Name: req.Name, Ciphertext: ciphertext}); err != nil {
		s.encryptFailed(c, req.Name, err)
		return
	}
	writeJSON(c, http.StatusOK, messageResponse{Message: EncryptedMessage, Key: keyID})
}

func (s *Server) readEncryptRequest(r *http.Request) (encryptRequest, error) {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return encryptRequest{}, err
	}
	return decodeEncryptRequest(body)
}

// handleDecrypt decrypts Name's record with the caller's Key. The key goes to
// KMS as is: a wrong key must fail there, where CloudTrail records it.
func (s *Server) handleDecrypt(c *gin.Context) {
	req, err := s.readDecryptRequest(c.Request)
	if err != nil {
		s.decryptFailed(c, req.Name, "invalid_request", err)
		return
	}
	ctx := c.Request.Context()
	secret, err := s.store.FindSecret(ctx, req.Name)
	if err != nil {
		reason := "store_unavailable"
		if app.ErrorCode(err) == app.ENOTFOUND {
			reason = "unknown_name"
		}
		s.decryptFailed(c, req.Name, reason, err)
		return
	}
	plaintext, err := s.crypto.Decrypt(ctx, req.Name, req.Key, secret.Ciphertext)
	if err != nil {
		reason := "kms_unavailable"
		switch app.ErrorCode(err) {
		case app.EKEYREFUSED:
			reason = "kms_refused"
		case app.EINTERNAL:
			reason = "internal"
		}
		s.decryptFailed(c, req.Name, reason, err)
		return
	}
	writeJSON(c, http.StatusOK, textResponse{Text: string(plaintext)})
}

func (s *Server) readDecryptRequest(r *http.Request) (decryptRequest, error) {
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return decryptRequest{}, err
	}
	return decodeDecryptRequest(body)
}

// decryptFailed answers a failed decrypt and writes its one security event.
// A CloudWatch metric filter { $.event = "decrypt_failed" } counts these lines.
// The line carries a hash of the name, never the name, key or any data.
func (s *Server) decryptFailed(c *gin.Context, name, reason string, err error) {
	status := ErrorStatus(err)
	level := slog.LevelWarn
	if c.Request.Context().Err() != nil {
		// The caller hung up; nothing was refused. Still one event, but not an error.
		reason, level = "client_canceled", slog.LevelInfo
	}
	attrs := []slog.Attr{
		slog.String("event", "decrypt_failed"),
		slog.String("reason", reason),
		slog.Int("status", status),
		slog.String("client_ip", c.ClientIP()),
	}
	if name != "" {
		attrs = append(attrs, slog.String("name_sha256", nameHash(name)))
	}
	if detail := app.ErrorDetail(err); detail != "" {
		attrs = append(attrs, slog.String("kms_error", detail))
	}
	if status >= 500 && reason != "client_canceled" {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	} else if reason == "invalid_request" {
		// The code, not the message: messages may quote the caller's input.
		attrs = append(attrs, slog.String("error_code", app.ErrorCode(err)))
	}
	s.logger.LogAttrs(c.Request.Context(), level, "decrypt failed", attrs...)
	writeError(c, err)
}

// encryptFailed answers a failed encrypt; only server-side failures are
// logged, not the caller's mistakes nor requests the caller abandoned.
func (s *Server) encryptFailed(c *gin.Context, name string, err error) {
	status := ErrorStatus(err)
	if status >= 500 && c.Request.Context().Err() == nil {
		attrs := []slog.Attr{
			slog.String("event", "encrypt_failed"),
			slog.Int("status", status),
			slog.String("error", err.Error()),
		}
		if detail := app.ErrorDetail(err); detail != "" {
			attrs = append(attrs, slog.String("kms_error", detail))
		}
		if name != "" {
			attrs = append(attrs, slog.String("name_sha256", nameHash(name)))
		}
		s.logger.LogAttrs(c.Request.Context(), slog.LevelError, "encrypt failed", attrs...)
	}
	writeError(c, err)
}

// nameHash identifies a record name in logs without writing the name:
// the first 16 hex digits of its SHA-256.
func nameHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:8])
}
