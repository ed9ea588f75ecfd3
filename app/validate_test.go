package app_test

import (
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/app"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		validate func(string) error
		input    string
		wantMsg  string // "" means valid
	}{
		{"name ok", app.ValidateName, "alice", ""},
		{"name sql injection is just a name", app.ValidateName, "' OR 1=1 --", ""},
		{"name 255 multibyte chars ok", app.ValidateName, strings.Repeat("é", 255), ""},
		{"name empty", app.ValidateName, "", "Name is required"},
		{"name 256 chars", app.ValidateName, strings.Repeat("a", 256), "Name must be at most 255 characters"},
		{"name NUL", app.ValidateName, "a\x00b", "Name must not contain control characters"},
		{"name newline", app.ValidateName, "a\nb", "Name must not contain control characters"},
		{"name invalid utf8", app.ValidateName, "a\xffb", "Name must be valid UTF-8"},
		{"text ok", app.ValidateText, "hello\nworld", ""},
		{"text 4096 bytes ok", app.ValidateText, strings.Repeat("x", 4096), ""},
		{"text empty", app.ValidateText, "", "Text is required"},
		{"text 4097 bytes", app.ValidateText, strings.Repeat("x", 4097), "Text must be at most 4096 bytes"},
		{"text 4096 bytes as 2048 two-byte chars ok", app.ValidateText, strings.Repeat("é", 2048), ""},
		{"text 4098 bytes as 2049 two-byte chars", app.ValidateText, strings.Repeat("é", 2049), "at most 4096 bytes"},
		{"text invalid utf8", app.ValidateText, "\xc3\x28", "Text must be valid UTF-8"},
		{"key uuid ok", app.ValidateKey, "1234abcd-12ab-34cd-56ef-1234567890ab", ""},
		{"key 2048 chars ok", app.ValidateKey, strings.Repeat("k", 2048), ""},
		{"key empty", app.ValidateKey, "", "Key is required"},
		{"key 2049 chars", app.ValidateKey, strings.Repeat("k", 2049), "Key must be at most 2048 characters"},
		{"key control char", app.ValidateKey, "abc\x7f", "Key must not contain control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.validate(tt.input)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if app.ErrorCode(err) != app.EINVALID {
				t.Fatalf("code = %q, want %q (err %v)", app.ErrorCode(err), app.EINVALID, err)
			}
			if !strings.Contains(app.ErrorMessage(err), tt.wantMsg) {
				t.Fatalf("message = %q, want it to contain %q", app.ErrorMessage(err), tt.wantMsg)
			}
		})
	}
}
