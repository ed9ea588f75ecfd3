package kms_test

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/app/kms"
)

// countingConn counts the writes a client connection makes.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// writesPerCall makes KMS Decrypt requests through a client built with
// NewHTTPClient and optFns and returns how many socket writes it made per request.
func writesPerCall(t *testing.T, plaintext string, optFns ...func(*awskms.Options)) float64 {
	t.Helper()
	double := awsdouble.New(awsdouble.Options{})
	ts := httptest.NewServer(double)
	t.Cleanup(ts.Close)
	key := double.CreateKey("")
	var writes atomic.Int64
	cfg := awsdouble.ClientConfig(ts.URL)
	cfg.HTTPClient = kms.NewHTTPClient(func(tr *http.Transport) {
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, &writes}, nil
		}
	})
	crypto := kms.New(awskms.NewFromConfig(cfg, optFns...), key.ID, 0)
	ctx := context.Background()
	ct, keyID, err := crypto.Encrypt(ctx, "alice", []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	const calls = 20
	for range calls {
		pt, _, err := crypto.Decrypt(ctx, "alice", keyID, ct)
		if err != nil || string(pt) != plaintext {
			t.Fatalf("Decrypt = %q, %v", pt, err)
		}
	}
	return float64(writes.Load()) / calls
}

func TestSendInOneWrite(t *testing.T) {
	tests := []struct {
		name      string
		plaintext string
		optFns    []func(*awskms.Options)
		want      float64
	}{
		{"without it: headers, then body", "hello", nil, 2},
		{"with it: headers and body together", "hello", []func(*awskms.Options){kms.SendInOneWrite}, 1},
		{"largest plaintext KMS takes (4 KiB)", strings.Repeat("p", 4096), []func(*awskms.Options){kms.SendInOneWrite}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := writesPerCall(t, tt.plaintext, tt.optFns...); got != tt.want {
				t.Errorf("writes per request = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNewHTTPClient_TakesCABundle: LoadDefaultConfig adds AWS_CA_BUNDLE only
// to an *awshttp.BuildableClient and fails start-up on any other client type.
func TestNewHTTPClient_TakesCABundle(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(ts.Close)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	_, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion("us-east-1"), awsconfig.WithHTTPClient(kms.NewHTTPClient()))
	if err != nil {
		t.Fatalf("LoadDefaultConfig with AWS_CA_BUNDLE: %v", err)
	}
}
