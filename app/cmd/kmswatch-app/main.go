// Command kmswatch-app is the encrypt/decrypt web service: it wires the
// PostgreSQL store, KMS and the HTTP server, owns configuration and signals.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kmswatch/kmswatch/app/emf"
	apphttp "github.com/kmswatch/kmswatch/app/http"
	"github.com/kmswatch/kmswatch/app/kms"
	"github.com/kmswatch/kmswatch/app/postgres"
	"github.com/kmswatch/kmswatch/app/secretsmanager"
)

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		// A request allocates ~40 KB (mostly the AWS SDK) over a live heap of a
		// few MB: at the default GOGC=100 the collector runs constantly. 400
		// cut CPU per request by about a fifth in `make bench` for tens of MB.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, environ(os.Environ()), os.Stdout, os.Stderr))
}

// run is the whole program without globals: exit code 2 for bad
// configuration, 1 for a failed start-up, 0 after a clean shutdown.
func run(ctx context.Context, env map[string]string, stdout, stderr io.Writer) int {
	cfg, err := LoadConfig(env)
	if err != nil {
		fmt.Fprintf(stderr, "kmswatch-app: configuration: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	m, err := Open(ctx, cfg, logger, stdout)
	if err != nil {
		logger.Error("start-up failed", "error", err.Error())
		fmt.Fprintf(stderr, "kmswatch-app: start-up failed: %s\n", oneLine(err))
		return 1
	}
	if err := m.Run(ctx); err != nil {
		logger.Error("server failed", "error", err.Error())
		return 1
	}
	return 0
}

// Main is the running service.
type Main struct {
	cfg     Config
	logger  *slog.Logger
	db      *postgres.DB
	metrics *emf.Recorder
	server  *apphttp.Server
	ln      net.Listener
	debug   *http.Server // pprof, only with DEBUG_ADDR
}

// Open connects to AWS and PostgreSQL (migrating the schema) and listens.
// The service's EMF metric lines go to metricsOut, the same stream as the
// logger's lines (stdout), for the awslogs driver to ship both.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, metricsOut io.Writer) (*Main, error) {
	metrics, err := emf.New(metricsOut, emf.Options{Service: cfg.MetricsService})
	if err != nil {
		return nil, fmt.Errorf("METRICS_SERVICE: %w", err) // validated by LoadConfig already
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(cfg.AWSRegion),
		awsconfig.WithHTTPClient(kms.NewHTTPClient()),
		awsconfig.WithRetryer(kms.NewRetryer),
	)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	crypto := kms.New(awskms.NewFromConfig(awsCfg, kms.SendInOneWrite), cfg.KMSKeyID, kms.DefaultTimeout)

	dbOpts := postgres.Options{URL: cfg.PostgresURL(), MaxConns: cfg.DBMaxConns, Logger: logger}
	if cfg.DBSecretARN != "" {
		dbOpts.Credentials = secretsmanager.New(awssm.NewFromConfig(awsCfg), cfg.DBSecretARN, secretsmanager.DefaultTimeout)
	}
	startCtx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	db, err := postgres.Open(startCtx, dbOpts)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}

	server := apphttp.NewServer(apphttp.Config{TrustedProxies: cfg.TrustedProxies, Meter: metrics}, db, crypto, logger)
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.Port)))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen on BIND_ADDRESS %q PORT %d: %w", cfg.BindAddress, cfg.Port, err)
	}
	mode := "DATABASE_URL"
	if cfg.DBSecretARN != "" {
		mode = "DB_SECRET_ARN"
	}
	logger.Info("listening", "addr", ln.Addr().String(), "region", cfg.AWSRegion, "database", mode,
		"metrics_service", cfg.MetricsService)
	m := &Main{cfg: cfg, logger: logger, db: db, metrics: metrics, server: server, ln: ln}
	if cfg.DebugAddr != "" {
		if err := m.serveDebug(); err != nil {
			ln.Close()
			db.Close()
			return nil, err
		}
	}
	return m, nil
}

// serveDebug serves the pprof handlers on DEBUG_ADDR, apart from the API.
func (m *Main) serveDebug() error {
	ln, err := net.Listen("tcp", m.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("listen on DEBUG_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go m.debug.Serve(ln) //nolint:errcheck // ends with Close in Run
	m.logger.Info("debug listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the service listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves until ctx ends (SIGTERM from ECS), then drains requests in
// flight within SHUTDOWN_TIMEOUT, writes the last metrics line (after the
// drain, so the drained requests are in it) and closes the database pool.
func (m *Main) Run(ctx context.Context) error {
	m.metrics.Start()
	served := make(chan error, 1)
	go func() { served <- m.server.Serve(m.ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		m.logger.Info("shutting down", "timeout", m.cfg.ShutdownTimeout.String())
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	err := m.server.Shutdown(shutdownCtx)
	metricsErr := m.metrics.Close()
	if m.debug != nil {
		m.debug.Close()
	}
	m.db.Close()
	m.logger.Info("stopped")
	return errors.Join(serveErr, err, metricsErr)
}

// oneLine flattens a multi-line error (pgx lists each address it tried).
func oneLine(err error) string {
	return strings.Join(strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' || r == '\t' }), "; ")
}

// environ turns os.Environ's KEY=value list into a map.
func environ(kv []string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			m[k] = v
		}
	}
	return m
}
