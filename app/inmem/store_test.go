package inmem_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/kmswatch/kmswatch/app"
	"github.com/kmswatch/kmswatch/app/inmem"
)

func TestStore_PutFindReplace(t *testing.T) {
	ctx := context.Background()
	st := inmem.NewStore()
	if _, err := st.FindSecret(ctx, "alice"); app.ErrorCode(err) != app.ENOTFOUND {
		t.Fatalf("unknown name: got %v, want ENOTFOUND", err)
	}
	first := &app.Secret{Name: "alice", Ciphertext: []byte("one")}
	if err := st.PutSecret(ctx, first); err != nil {
		t.Fatal(err)
	}
	if first.UpdatedAt.IsZero() {
		t.Error("PutSecret did not set UpdatedAt")
	}
	if err := st.PutSecret(ctx, &app.Secret{Name: "alice", Ciphertext: []byte("two")}); err != nil {
		t.Fatal(err)
	}
	got, err := st.FindSecret(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Ciphertext, []byte("two")) {
		t.Errorf("ciphertext = %q, want the replacement %q", got.Ciphertext, "two")
	}
	if st.Len() != 1 {
		t.Errorf("Len = %d, want 1 after replacing", st.Len())
	}
}

func TestStore_CopiesCiphertext(t *testing.T) {
	ctx := context.Background()
	st := inmem.NewStore()
	buf := []byte("cipher")
	if err := st.PutSecret(ctx, &app.Secret{Name: "n", Ciphertext: buf}); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X'
	got, _ := st.FindSecret(ctx, "n")
	got.Ciphertext[1] = 'Y'
	again, _ := st.FindSecret(ctx, "n")
	if string(again.Ciphertext) != "cipher" {
		t.Fatalf("stored ciphertext changed through a caller's slice: %q", again.Ciphertext)
	}
}

func TestStore_RejectsInvalidRecords(t *testing.T) {
	ctx := context.Background()
	st := inmem.NewStore()
	for name, s := range map[string]*app.Secret{
		"empty name":       {Name: "", Ciphertext: []byte("c")},
		"empty ciphertext": {Name: "n"},
	} {
		if err := st.PutSecret(ctx, s); app.ErrorCode(err) != app.EINVALID {
			t.Errorf("%s: got %v, want EINVALID", name, err)
		}
	}
	if st.Len() != 0 {
		t.Errorf("Len = %d, want 0", st.Len())
	}
}

func TestStore_CancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st := inmem.NewStore()
	if err := st.PutSecret(ctx, &app.Secret{Name: "n", Ciphertext: []byte("c")}); app.ErrorCode(err) != app.EUNAVAILABLE {
		t.Errorf("PutSecret: got %v, want EUNAVAILABLE", err)
	}
	if _, err := st.FindSecret(ctx, "n"); app.ErrorCode(err) != app.EUNAVAILABLE {
		t.Errorf("FindSecret: got %v, want EUNAVAILABLE", err)
	}
	if err := st.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

func TestStore_Concurrent(t *testing.T) {
	ctx := context.Background()
	st := inmem.NewStore()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				name := fmt.Sprintf("w%d-%d", w, i)
				if err := st.PutSecret(ctx, &app.Secret{Name: name, Ciphertext: []byte(name)}); err != nil {
					t.Error(err)
					return
				}
				if got, err := st.FindSecret(ctx, name); err != nil || string(got.Ciphertext) != name {
					t.Errorf("FindSecret(%s) = %v, %v", name, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st.Len() != 800 {
		t.Errorf("Len = %d, want 800", st.Len())
	}
}
