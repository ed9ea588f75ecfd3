package secretsmanager_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kmswatch/kmswatch/app/awsdouble"
	"github.com/kmswatch/kmswatch/app/secretsmanager"
)

func newDouble(t *testing.T) (*awsdouble.Server, *awssm.Client) {
	t.Helper()
	double := awsdouble.New(awsdouble.Options{})
	ts := httptest.NewServer(double)
	t.Cleanup(ts.Close)
	return double, awssm.NewFromConfig(awsdouble.ClientConfig(ts.URL))
}

func TestCredentials_FetchedOnceThenCached(t *testing.T) {
	double, client := newDouble(t)
	arn := double.PutSecret("rds-master", `{"username":"app","password":"pw1","engine":"postgres"}`)
	src := secretsmanager.New(client, arn, 0)
	ctx := context.Background()
	for range 3 {
		user, pass, err := src.Credentials(ctx)
		if err != nil || user != "app" || pass != "pw1" {
			t.Fatalf("Credentials = %q, %q, %v", user, pass, err)
		}
	}
	if n := double.Calls("GetSecretValue"); n != 1 {
		t.Fatalf("GetSecretValue calls = %d, want 1", n)
	}
}

func TestCredentials_InvalidateRefetchesAfterRotation(t *testing.T) {
	double, client := newDouble(t)
	double.PutSecret("rds-master", `{"username":"app","password":"old"}`)
	src := secretsmanager.New(client, "rds-master", 0)
	ctx := context.Background()
	if _, _, err := src.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	rejected := src.Generation()
	double.PutSecret("rds-master", `{"username":"app","password":"new"}`) // rotation

	src.Invalidate(rejected - 1) // a stale report: must not drop the cache
	if _, pass, _ := src.Credentials(ctx); pass != "old" {
		t.Fatalf("a stale Invalidate dropped the cache: password %q", pass)
	}
	src.Invalidate(rejected)
	if _, pass, err := src.Credentials(ctx); err != nil || pass != "new" {
		t.Fatalf("after Invalidate: password %q, %v; want the rotated one", pass, err)
	}
	src.Invalidate(rejected) // reported again by a slower caller: keeps the new one
	if _, _, err := src.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	if n := double.Calls("GetSecretValue"); n != 2 {
		t.Fatalf("GetSecretValue calls = %d, want 2", n)
	}
}

func TestCredentials_ConcurrentCallersShareOneFetch(t *testing.T) {
	double, client := newDouble(t)
	double.PutSecret("rds-master", `{"username":"app","password":"pw"}`)
	src := secretsmanager.New(client, "rds-master", 0)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := src.Credentials(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := double.Calls("GetSecretValue"); n != 1 {
		t.Fatalf("GetSecretValue calls = %d, want 1", n)
	}
}

func TestCredentials_Errors(t *testing.T) {
	tests := []struct {
		name, secret, wantErr string
	}{
		{"secret missing", "", "ResourceNotFoundException"},
		{"not JSON", `hunter2-not-json`, "not JSON"},
		{"no username", `{"password":"hunter2"}`, `no "username"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			double, client := newDouble(t)
			if tt.secret != "" {
				double.PutSecret("rds-master", tt.secret)
			}
			_, _, err := secretsmanager.New(client, "rds-master", 0).Credentials(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error text leaks the secret: %v", err)
			}
		})
	}
}
