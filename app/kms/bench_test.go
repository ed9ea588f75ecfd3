package kms_test

import (
	"context"
	"testing"
)

// BenchmarkDecrypt measures one KMS Decrypt through the real SDK client over
// loopback HTTP to the double (client and double both count).
func BenchmarkDecrypt(b *testing.B) {
	f := newFixture(b, true)
	ctx := context.Background()
	ct, keyID, err := f.crypto.Encrypt(ctx, "bench", []byte("some text to keep"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.crypto.Decrypt(ctx, "bench", keyID, ct); err != nil {
			b.Fatal(err)
		}
	}
}
