package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// startMain runs Run in the background and returns the facts it printed, by name, and a stop function
// that shuts it down and returns Run's error.
func startMain(t *testing.T, args ...string) (map[string]string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, args, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	facts := map[string]string{}
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		name, value, ok := strings.Cut(lines.Text(), "=")
		if !ok {
			t.Fatalf("printed %q, want NAME=value", lines.Text())
		}
		facts[name] = value
		if name == "AWS_ENDPOINT_URL" { // the last fact: the double is listening
			break
		}
	}
	if len(facts) == 0 {
		cancel()
		t.Fatalf("Run printed nothing: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return after cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return facts, stop
}

func TestServesKMSAndSecretsAndAppendsTrail(t *testing.T) {
	trailPath := filepath.Join(t.TempDir(), "trail.jsonl")
	facts, stop := startMain(t, "--addr", "127.0.0.1:0", "--trail-file", trailPath,
		"--secret", "kmswatch/db=postgres://u:p@db/app", "--role-arn", "arn:aws:iam::111122223333:role/app")

	if facts["KMS_KEY_ID"] != "1234abcd-12ab-34cd-56ef-1234567890ab" ||
		facts["KMS_OTHER_KEY_ID"] != "0987dcba-09fe-87dc-65ba-ab0987654321" ||
		facts["KMS_OTHER_KEY_ARN"] != "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321" ||
		facts["KMS_DISABLED_KEY_ID"] != "1a2b3c4d-5e6f-1a2b-3c4d-5e6f1a2b3c4d" ||
		facts["AWS_ACCESS_KEY_ID"] != awsdouble.DefaultCredentials.AccessKeyID ||
		facts["AWS_SECRET_ACCESS_KEY"] != awsdouble.DefaultCredentials.SecretAccessKey ||
		facts["AWS_SESSION_TOKEN"] != awsdouble.DefaultCredentials.SessionToken ||
		facts["KMS_KEY_ARN"] != "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" ||
		facts["KMS_KEY_ALIAS"] != "alias/kmswatch-local" || facts["TASK_ROLE_ARN"] != "arn:aws:iam::111122223333:role/app" || !strings.HasPrefix(facts["AWS_ENDPOINT_URL"], "http://127.0.0.1:") ||
		!strings.HasPrefix(facts["SECRET_KMSWATCH_DB_ARN"], "arn:aws:secretsmanager:us-east-1:111122223333:secret:kmswatch/db-") {
		t.Fatalf("facts = %v", facts)
	}

	cfg := awsdouble.ClientConfig(facts["AWS_ENDPOINT_URL"])
	ctx := context.Background()
	enc, err := kms.NewFromConfig(cfg).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/kmswatch-local"), Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kms.NewFromConfig(cfg).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String("alias/other")}); err == nil {
		t.Fatal("Decrypt naming an unknown alias succeeded")
	}
	sec, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("kmswatch/db")})
	if err != nil || aws.ToString(sec.SecretString) != "postgres://u:p@db/app" {
		t.Fatalf("GetSecretValue = %v, %v", sec, err)
	}
	// The lab's two refusals: the other key cannot decrypt the app key's text, the disabled key serves nothing.
	_, err = kms.NewFromConfig(cfg).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(facts["KMS_OTHER_KEY_ID"])})
	if !errors.As(err, new(*types.IncorrectKeyException)) {
		t.Errorf("Decrypt naming the other key: %v, want IncorrectKeyException", err)
	}
	_, err = kms.NewFromConfig(cfg).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/kmswatch-local-disabled"), Plaintext: []byte("p")})
	if !errors.As(err, new(*types.DisabledException)) {
		t.Errorf("Encrypt with the disabled key: %v, want DisabledException", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	data, err := os.ReadFile(trailPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	wantEvents := []string{"Encrypt/", "Decrypt/NotFoundException", "GetSecretValue/", "Decrypt/IncorrectKeyException", "Encrypt/DisabledException"}
	if len(lines) != len(wantEvents) {
		t.Fatalf("trail has %d lines, want %d:\n%s", len(lines), len(wantEvents), data)
	}
	for i, line := range lines {
		var rec struct {
			EventName, ErrorCode string
			UserIdentity         struct {
				SessionContext struct{ SessionIssuer struct{ ARN string } }
			}
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not one JSON record: %v", i+1, err)
		}
		if got := rec.EventName + "/" + rec.ErrorCode; got != wantEvents[i] {
			t.Errorf("line %d is %s, want %s", i+1, got, wantEvents[i])
		}
		if rec.UserIdentity.SessionContext.SessionIssuer.ARN != "arn:aws:iam::111122223333:role/app" {
			t.Errorf("line %d: sessionIssuer.arn = %q, want --role-arn", i+1, rec.UserIdentity.SessionContext.SessionIssuer.ARN)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"secret without a value", []string{"--secret", "just-a-name"}},
		{"unknown flag", []string{"--nope"}},
		{"stray argument", []string{"serve"}},
		{"empty key id", []string{"--key-id", ""}},
		{"the other key is the app's", []string{"--other-key-id", "1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{"the disabled key is the other", []string{"--other-key-id", "k", "--disabled-key-id", "k"}},
		{"a role ARN that is not one", []string{"--role-arn", "kmswatch-task"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if !errors.Is(err, errUsage) {
				t.Errorf("parseFlags(%q) = %v, want a usage error", tc.args, err)
			}
		})
	}
}

func TestTrailWriterFlushesPeriodically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trail.jsonl")
	w, err := openTrail(path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(json.RawMessage(`{"eventName":"Decrypt"}`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if string(data) == "{\"eventName\":\"Decrypt\"}\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s the file holds %q; the record was not flushed", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
