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
	s.cfg.Meter.EncryptStored()
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
		s.decryptFailed(c, req.Name, app.ReasonInvalidRequest, err)
		return
	}
	ctx := c.Request.Context()
	secret, err := s.store.FindSecret(ctx, req.Name)
	if err != nil {
		reason := app.ReasonStoreUnavailable
		if app.ErrorCode(err) == app.ENOTFOUND {
			reason = app.ReasonUnknownName
		}
		s.decryptFailed(c, req.Name, reason, err)
		return
	}
	plaintext, kmsRequestID, err := s.crypto.Decrypt(ctx, req.Name, req.Key, secret.Ciphertext)
	if err != nil {
		reason := app.ReasonKMSUnavailable
		switch app.ErrorCode(err) {
		case app.EKEYREFUSED:
			reason = app.ReasonKMSRefused
		case app.EINTERNAL:
			reason = app.ReasonInternal
		}
		s.decryptFailed(c, req.Name, reason, err)
		return
	}
	s.decryptServed(c, req.Name, kmsRequestID)
	writeJSON(c, http.StatusOK, textResponse{Text: string(plaintext)})
}

// decryptServed counts a decrypt KMS answered and writes its one audit line,
// whose kms_request_id is the requestID of the call's CloudTrail record: the
// offline join matches every CloudTrail Decrypt by the task role with one of
// these lines, so a Decrypt without one was not made for this service's
// callers. Like decrypt_failed it carries a hash of the name, never the
// name, key or text. It counts once KMS has answered, whether or not the
// caller is still there to read the answer: KMS served it all the same.
func (s *Server) decryptServed(c *gin.Context, name, kmsRequestID string) {
	s.cfg.Meter.DecryptServed()
	s.logger.LogAttrs(c.Request.Context(), slog.LevelInfo, "decrypt served",
		slog.String("event", "decrypt_served"),
		slog.String("kms_request_id", kmsRequestID),
		slog.String("name_sha256", nameHash(name)),
		slog.String("client_ip", c.ClientIP()),
	)
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
func (s *Server) decryptFailed(c *gin.Context, name string, reason app.DecryptFailure, err error) {
	status := ErrorStatus(err)
	level := slog.LevelWarn
	if c.Request.Context().Err() != nil {
		// The caller hung up; nothing was refused. Still one event, but not an error.
		reason, level = app.ReasonClientCanceled, slog.LevelInfo
	}
	s.cfg.Meter.DecryptFailed(reason)
	attrs := []slog.Attr{
		slog.String("event", "decrypt_failed"),
		slog.String("reason", string(reason)),
		slog.Int("status", status),
		slog.String("client_ip", c.ClientIP()),
	}
	if name != "" {
		attrs = append(attrs, slog.String("name_sha256", nameHash(name)))
	}
	if detail := app.ErrorDetail(err); detail != "" {
		attrs = append(attrs, slog.String("kms_error", detail))
	}
	if status >= 500 && reason != app.ReasonClientCanceled {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	} else if reason == app.ReasonInvalidRequest {
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
