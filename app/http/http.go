// Package http serves the encrypt/decrypt API with gin. It maps domain error
// codes to HTTP statuses in one table and writes every error as {"Message": ...}.
package http

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kmswatch/kmswatch/app"
)

func init() {
	// Release mode: no debug route dump, no per-request console writes.
	gin.SetMode(gin.ReleaseMode)
}

// codeStatus maps each domain error code to its HTTP status.
var codeStatus = map[string]int{
	app.EINVALID:     http.StatusBadRequest,
	app.ENOTFOUND:    http.StatusNotFound,
	app.EKEYREFUSED:  http.StatusForbidden,
	app.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	app.EUNSUPPORTED: http.StatusUnsupportedMediaType,
	app.EUNAVAILABLE: http.StatusServiceUnavailable,
	app.EINTERNAL:    http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status for err's domain code.
func ErrorStatus(err error) int {
	if status, ok := codeStatus[app.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// messageResponse is the body of every error and of the encrypt answer.
type messageResponse struct {
	Message string `json:"Message"`
	Key     string `json:"Key,omitempty"`
}

type textResponse struct {
	Text string `json:"Text"`
}

type statusResponse struct {
	Status string `json:"Status"`
}

// writeError answers with err's status and {"Message": ...}. Internal errors
// show a generic message; their cause is logged by the caller.
func writeError(c *gin.Context, err error) {
	writeJSON(c, ErrorStatus(err), messageResponse{Message: app.ErrorMessage(err)})
}

// writeJSON answers with v as JSON. Answers may carry plaintext, so no cache may keep them.
func writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only our own response types are marshalled: a bug
		status, body = http.StatusInternalServerError, []byte(`{"Message":"Internal error"}`)
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Data(status, "application/json; charset=utf-8", body)
}
