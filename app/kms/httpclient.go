package kms

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// writeBufferBytes holds a whole KMS request (at most a 4 KiB plaintext or a
// 6 KiB blob, base64'd, plus headers), so it goes out in one write.
const writeBufferBytes = 16 << 10

// maxInMemoryBody bounds the bodies SendInOneWrite copies (KMS's are a few KiB).
const maxInMemoryBody = 64 << 10

// NewHTTPClient is the SDK's HTTP client tuned for one busy service host:
// enough idle connections for every request in flight (the SDK keeps 10 per
// host, so most requests would open a new TLS connection under load), and a
// write buffer that holds a whole KMS request (see SendInOneWrite). It stays
// an *awshttp.BuildableClient: config.LoadDefaultConfig needs that type to add
// AWS_CA_BUNDLE. options adjust the transport further (tests count writes).
func NewHTTPClient(options ...func(*http.Transport)) *awshttp.BuildableClient {
	client := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 256
		t.WriteBufferSize = writeBufferBytes
	})
	if len(options) > 0 {
		client = client.WithTransportOptions(options...)
	}
	return client
}

// SendInOneWrite is a KMS client option that sends each request with a small
// body in one write. The SDK hands net/http a body type it cannot see into,
// so net/http flushes the headers first and then writes the body: two
// syscalls and two packets per call. A *bytes.Reader body lets it send both
// from one buffer. It wraps the client's HTTP client after the SDK has set
// its timeouts on it.
func SendInOneWrite(o *awskms.Options) { o.HTTPClient = oneWriteClient{o.HTTPClient} }

type oneWriteClient struct{ next awskms.HTTPClient }

func (c oneWriteClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > maxInMemoryBody {
		return c.next.Do(r)
	}
	body := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, body)
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the request body (%d bytes announced): %w", r.ContentLength, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return c.next.Do(r)
}
