package app_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kmswatch/kmswatch/app"
)

func TestErrorAccessors(t *testing.T) {
	domain := &app.Error{Code: app.EKEYREFUSED, Message: "refused", Detail: "IncorrectKeyException", Err: errors.New("cause")}
	wrapped := fmt.Errorf("decrypt: %w", domain)
	tests := []struct {
		name                      string
		err                       error
		wantCode, wantMsg, wantDt string
	}{
		{"nil", nil, "", "", ""},
		{"plain error is internal", errors.New("boom"), app.EINTERNAL, "Internal error", ""},
		{"domain error", domain, app.EKEYREFUSED, "refused", "IncorrectKeyException"},
		{"wrapped domain error", wrapped, app.EKEYREFUSED, "refused", "IncorrectKeyException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := app.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if got := app.ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.wantMsg)
			}
			if got := app.ErrorDetail(tt.err); got != tt.wantDt {
				t.Errorf("ErrorDetail = %q, want %q", got, tt.wantDt)
			}
		})
	}
	if !errors.Is(wrapped, domain.Err) {
		t.Error("Unwrap does not reach the cause")
	}
}
