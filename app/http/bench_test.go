package http_test

import (
	"net/http"
	"strings"
	"testing"
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
