package http_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apphttp "github.com/kmswatch/kmswatch/app/http"
	"github.com/kmswatch/kmswatch/app/inmem"
)

// The handler's own cost per request (inmem store, fake crypto): what the
// HTTP layer adds on top of KMS and PostgreSQL.
func BenchmarkHandler(b *testing.B) {
	h := newHarness(b, nil)
	if rec := h.doJSON("POST", "/encrypt", `{"Name":"bench","Text":"some text to keep"}`); rec.Code != http.StatusOK {
		b.Fatal(rec.Code)
	}
	decrypt := `{"Name":"bench","Key":"` + testKeyID + `"}`
	b.Run("encrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rec := h.do("POST", "/encrypt", "application/json", strings.NewReader(`{"Name":"bench","Text":"some text to keep"}`)); rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rec := h.do("GET", "/decrypt", "application/json", strings.NewReader(decrypt)); rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
}

// BenchmarkDecryptLoggingToAFile is BenchmarkHandler's decrypt with the
// service's real log set-up: JSON lines at info level into a file, one
// write per line, as stdout is in bench.sh (ECS gives a pipe). It prices
// the decrypt_served line a served decrypt writes.
func BenchmarkDecryptLoggingToAFile(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "app.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	logger := slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := apphttp.NewServer(apphttp.Config{}, inmem.NewStore(), &fakeCrypto{}, logger).Handler()
	do := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do("POST", "/encrypt", `{"Name":"bench","Text":"some text to keep"}`); code != http.StatusOK {
		b.Fatal(code)
	}
	decrypt := `{"Name":"bench","Key":"` + testKeyID + `"}`
	b.ReportAllocs()
	for b.Loop() {
		if code := do("GET", "/decrypt", decrypt); code != http.StatusOK {
			b.Fatal(code)
		}
	}
}
