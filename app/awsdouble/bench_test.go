package awsdouble_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// BenchmarkEncryptDecryptThroughSDK is what the app pays per round trip: SDK, signing, HTTP and the double.
func BenchmarkEncryptDecryptThroughSDK(b *testing.B) {
	d := mustStart(b, awsdouble.Options{})
	d.CreateKey("alias/app")
	ctx := testContext(b)
	plaintext := bytes.Repeat([]byte("p"), 64)
	encCtx := map[string]string{"secret": "name"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			enc, err := d.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: plaintext, EncryptionContext: encCtx})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// discardResponse is the cheapest http.ResponseWriter, so the benchmark below measures the double alone.
type discardResponse struct {
	header http.Header
	status int
}

func (w *discardResponse) Header() http.Header         { return w.header }
func (w *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardResponse) WriteHeader(status int)      { w.status = status }

// BenchmarkServeEncryptAndDecrypt is the double's own cost per Encrypt+Decrypt pair, record included, without HTTP.
func BenchmarkServeEncryptAndDecrypt(b *testing.B) {
	s := awsdouble.New(awsdouble.Options{})
	key := s.CreateKey("alias/app")
	plaintext := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("p"), 64))
	encryptBody := `{"KeyId":"alias/app","Plaintext":"` + plaintext + `","EncryptionContext":{"secret":"name"}}`
	// A blob to decrypt, made once through the handler itself.
	blob := mustEncrypt(b, mustStartWith(b, s), key.ID, bytes.Repeat([]byte("p"), 64), map[string]string{"secret": "name"})
	decryptBody := `{"CiphertextBlob":"` + base64.StdEncoding.EncodeToString(blob) + `","EncryptionContext":{"secret":"name"}}`
	serve := func(target, body string) {
		r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", target)
		signWithoutSignature(r, awsdouble.DefaultCredentials, "kms")
		r.RemoteAddr = "127.0.0.1:40000"
		w := &discardResponse{header: http.Header{}}
		s.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("%s: status %d", target, w.status)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve("TrentService.Encrypt", encryptBody)
			serve("TrentService.Decrypt", decryptBody)
		}
	})
}
