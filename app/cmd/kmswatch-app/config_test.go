package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func validEnv() map[string]string {
	return map[string]string{
		"KMS_KEY_ID":   "1234abcd-12ab-34cd-56ef-1234567890ab",
		"AWS_REGION":   "eu-west-1",
		"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
	}
}

func rdsEnv() map[string]string {
	return map[string]string{
		"KMS_KEY_ID":    "1234abcd-12ab-34cd-56ef-1234567890ab",
		"AWS_REGION":    "eu-west-1",
		"DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-1234",
		"DB_HOST":       "db.abc.eu-west-1.rds.amazonaws.com",
		"DB_PORT":       "5432",
		"DB_NAME":       "kmswatch",
	}
}

// TestConfigErrors: each missing or invalid variable stops start-up with one
// line naming it, exit code 2, before anything is contacted.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		base    func() map[string]string
		set     map[string]string
		unset   []string
		wantVar string
		wantMsg string
	}{
		{"KMS_KEY_ID missing", validEnv, nil, []string{"KMS_KEY_ID"}, "KMS_KEY_ID", "required, not set"},
		{"KMS_KEY_ID empty", validEnv, map[string]string{"KMS_KEY_ID": ""}, nil, "KMS_KEY_ID", "set but empty"},
		{"AWS_REGION missing", validEnv, nil, []string{"AWS_REGION"}, "AWS_REGION", "required, not set"},
		{"no database at all", validEnv, nil, []string{"DATABASE_URL"}, "DATABASE_URL", "not set"},
		{"both database modes", validEnv, map[string]string{"DB_HOST": "h"}, nil, "DATABASE_URL", "not both"},
		{"DATABASE_URL not postgres", validEnv, map[string]string{"DATABASE_URL": "mysql://u:hunter2@h/db"}, nil, "DATABASE_URL", "postgres://"},
		{"PORT not a number", validEnv, map[string]string{"PORT": "eighty"}, nil, "PORT", "invalid int"},
		{"PORT out of range", validEnv, map[string]string{"PORT": "70000"}, nil, "PORT", "not a TCP port"},
		{"BIND_ADDRESS a host name", validEnv, map[string]string{"BIND_ADDRESS": "localhost"}, nil, "BIND_ADDRESS", "not an IP address; use e.g. 127.0.0.1"},
		{"BIND_ADDRESS with a port", validEnv, map[string]string{"BIND_ADDRESS": "127.0.0.1:8080"}, nil, "BIND_ADDRESS", "not an IP address"},
		{"BIND_ADDRESS with a zone", validEnv, map[string]string{"BIND_ADDRESS": "fe80::1%eth0"}, nil, "BIND_ADDRESS", "not an IP address"},
		{"METRICS_SERVICE with a space", validEnv, map[string]string{"METRICS_SERVICE": "kms watch"}, nil, "METRICS_SERVICE", "letters, digits"},
		{"METRICS_SERVICE too long", validEnv, map[string]string{"METRICS_SERVICE": strings.Repeat("a", 256)}, nil, "METRICS_SERVICE", "1 to 255 characters"},
		{"LOG_LEVEL unknown", validEnv, map[string]string{"LOG_LEVEL": "loud"}, nil, "LOG_LEVEL", "invalid"},
		{"TRUSTED_PROXIES not a CIDR", validEnv, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, nil, "TRUSTED_PROXIES", "invalid"},
		{"STARTUP_TIMEOUT not a duration", validEnv, map[string]string{"STARTUP_TIMEOUT": "soon"}, nil, "STARTUP_TIMEOUT", "invalid"},
		{"DEBUG_ADDR without a port", validEnv, map[string]string{"DEBUG_ADDR": "localhost"}, nil, "DEBUG_ADDR", "host:port"},
		{"DB_MAX_CONNS zero", validEnv, map[string]string{"DB_MAX_CONNS": "0"}, nil, "DB_MAX_CONNS", "at least 1"},
		{"DB_SECRET_ARN missing", rdsEnv, nil, []string{"DB_SECRET_ARN"}, "DB_SECRET_ARN", "required"},
		{"DB_HOST missing", rdsEnv, nil, []string{"DB_HOST"}, "DB_HOST", "required with DB_SECRET_ARN"},
		{"DB_NAME missing", rdsEnv, nil, []string{"DB_NAME"}, "DB_NAME", "required with DB_SECRET_ARN"},
		{"DB_PORT not a number", rdsEnv, map[string]string{"DB_PORT": "x"}, nil, "DB_PORT", "invalid int"},
		{"DB_PORT out of range", rdsEnv, map[string]string{"DB_PORT": "0"}, nil, "DB_PORT", "not a TCP port"},
		{"DB_SSLMODE unknown", rdsEnv, map[string]string{"DB_SSLMODE": "always"}, nil, "DB_SSLMODE", "not a libpq sslmode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.base()
			for k, v := range tt.set {
				env[k] = v
			}
			for _, k := range tt.unset {
				delete(env, k)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), env, &stdout, &stderr)
			if code != 2 {
				t.Fatalf("exit code = %d, want 2; stderr %q", code, stderr.String())
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Fatalf("stderr is not one line: %q", line)
			}
			if !strings.Contains(line, tt.wantVar+": ") || !strings.Contains(line, tt.wantMsg) {
				t.Fatalf("stderr = %q, want %q named with %q", line, tt.wantVar, tt.wantMsg)
			}
			if strings.Contains(line, "hunter2") {
				t.Fatalf("stderr leaks a password: %q", line)
			}
		})
	}
}

func TestConfigDefaultsAndRDSURL(t *testing.T) {
	cfg, err := LoadConfig(rdsEnv())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8080 || cfg.DBSSLMode != "require" || cfg.LogLevel != slog.LevelInfo {
		t.Errorf("defaults: port %d, sslmode %q, log level %v", cfg.Port, cfg.DBSSLMode, cfg.LogLevel)
	}
	if cfg.BindAddress != "" || cfg.MetricsService != "kmswatch-app" {
		t.Errorf("defaults: BIND_ADDRESS %q (want every interface), METRICS_SERVICE %q", cfg.BindAddress, cfg.MetricsService)
	}
	want := "postgres://db.abc.eu-west-1.rds.amazonaws.com:5432/kmswatch?sslmode=require"
	if got := cfg.PostgresURL(); got != want {
		t.Errorf("PostgresURL = %q, want %q", got, want)
	}
	env := validEnv()
	env["TRUSTED_PROXIES"] = "10.0.0.0/16,192.168.1.0/24"
	env["LOG_LEVEL"] = "debug"
	cfg, err = LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1].String() != "192.168.1.0/24" || cfg.LogLevel != slog.LevelDebug {
		t.Errorf("TRUSTED_PROXIES = %v, LOG_LEVEL = %v", cfg.TrustedProxies, cfg.LogLevel)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// TestUnreachableDatabaseAtStartup: start-up waits STARTUP_TIMEOUT for the
// database, then exits 1 with one line saying why.
func TestUnreachableDatabaseAtStartup(t *testing.T) {
	env := validEnv()
	env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/test"
	env["STARTUP_TIMEOUT"] = "1s"
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), env, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code = %d, want 1; stderr %q", code, stderr.String())
	}
	if elapsed := time.Since(start); elapsed < time.Second || elapsed > 5*time.Second {
		t.Errorf("gave up after %v, want about STARTUP_TIMEOUT (1s)", elapsed)
	}
	line := stderr.String()
	if strings.Count(line, "\n") != 1 || !strings.Contains(line, "database not ready") {
		t.Fatalf("stderr = %q, want one line saying the database is not ready", line)
	}
	if !strings.Contains(stdout.String(), "database not ready, retrying") {
		t.Errorf("no retry logged: %s", stdout.String())
	}
}
