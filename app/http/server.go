package http

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kmswatch/kmswatch/app"
)

// Config holds the server's limits and its meter. Zero values take the
// defaults below.
type Config struct {
	// ReadHeaderTimeout bounds slow clients (Slowloris) before a handler runs.
	ReadHeaderTimeout time.Duration // default 5s
	ReadTimeout       time.Duration // default 15s
	WriteTimeout      time.Duration // default 30s
	// IdleTimeout must exceed the ALB's idle timeout (60s) so the ALB, not
	// the app, closes idle keep-alive connections; otherwise the ALB may send
	// on a closed connection and answer 502.
	IdleTimeout time.Duration // default 75s
	// ReadyTimeout bounds the database check of /readyz.
	ReadyTimeout time.Duration // default 2s
	// MaxBodyBytes bounds request bodies (413 above).
	MaxBodyBytes int64 // default DefaultMaxBodyBytes
	// TrustedProxies lists networks whose X-Forwarded-For is believed when
	// logging the client address (the ALB's subnets); empty: the TCP peer is logged.
	TrustedProxies []netip.Prefix
	// Meter counts each encrypt stored and each decrypt served or failed;
	// nil counts nothing.
	Meter app.Meter
}

func (c Config) withDefaults() Config {
	setDefault(&c.ReadHeaderTimeout, 5*time.Second)
	setDefault(&c.ReadTimeout, 15*time.Second)
	setDefault(&c.WriteTimeout, 30*time.Second)
	setDefault(&c.IdleTimeout, 75*time.Second)
	setDefault(&c.ReadyTimeout, 2*time.Second)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	if c.Meter == nil {
		c.Meter = uncounted{}
	}
	return c
}

// uncounted is the Meter of a server given none.
type uncounted struct{}

func (uncounted) EncryptStored()                   {}
func (uncounted) DecryptServed()                   {}
func (uncounted) DecryptFailed(app.DecryptFailure) {}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server is the encrypt/decrypt HTTP server.
type Server struct {
	cfg      Config
	store    app.Store
	crypto   app.Crypto
	logger   *slog.Logger
	engine   *gin.Engine
	http     *http.Server
	draining atomic.Bool
}

// NewServer builds the server around a store and a crypto service; a nil
// logger discards. Used by cmd/kmswatch-app and by `kmswatch rehearse`.
func NewServer(cfg Config, store app.Store, crypto app.Crypto, logger *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, store: store, crypto: crypto, logger: logger}
	e := gin.New()
	proxies := make([]string, len(cfg.TrustedProxies))
	for i, p := range cfg.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := e.SetTrustedProxies(proxies); err != nil {
		panic("http: gin rejected a parsed netip.Prefix: " + err.Error()) // cannot happen
	}
	e.HandleMethodNotAllowed = true
	e.Use(s.recoverPanics, s.accessLog)
	e.GET("/", s.handleHealth)
	e.GET("/healthz", s.handleHealth)
	e.GET("/readyz", s.handleReady)
	e.POST("/encrypt", s.handleEncrypt)
	e.GET("/decrypt", s.handleDecrypt)
	e.POST("/decrypt", s.handleDecrypt)
	e.NoRoute(func(c *gin.Context) {
		writeError(c, app.Errorf(app.ENOTFOUND, "No such path: use POST /encrypt or GET/POST /decrypt"))
	})
	e.NoMethod(func(c *gin.Context) {
		writeJSON(c, http.StatusMethodNotAllowed, messageResponse{Message: "Method not allowed"})
	})
	s.engine = e
	s.http = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the API as an http.Handler (for tests and in-process use).
func (s *Server) Handler() http.Handler { return s.engine }

// Serve answers requests on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits for requests in flight.
// /readyz answers 503 from here on.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	return s.http.Shutdown(ctx)
}

func (s *Server) handleHealth(c *gin.Context) {
	writeJSON(c, http.StatusOK, statusResponse{Status: "ok"})
}

func (s *Server) handleReady(c *gin.Context) {
	if s.draining.Load() {
		writeJSON(c, http.StatusServiceUnavailable, messageResponse{Message: "Shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.Warn("readiness check failed", "error", err.Error())
		writeJSON(c, http.StatusServiceUnavailable, messageResponse{Message: "Database unreachable"})
		return
	}
	writeJSON(c, http.StatusOK, statusResponse{Status: "ready"})
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped connection.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		if rec == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
			panic(rec)
		}
		s.logger.Error("handler panic", "panic", rec, "path", c.FullPath(), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			writeJSON(c, http.StatusInternalServerError, messageResponse{Message: "Internal error"})
		}
		c.Abort()
	}()
	c.Next()
}

// accessLog logs each request at debug level (LOG_LEVEL=debug); at info level
// it costs one Enabled check per request.
func (s *Server) accessLog(c *gin.Context) {
	if !s.logger.Enabled(c.Request.Context(), slog.LevelDebug) {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	s.logger.Debug("request",
		"method", c.Request.Method,
		"path", c.Request.URL.Path,
		"status", c.Writer.Status(),
		"duration_ms", float64(time.Since(start).Microseconds())/1000,
		"client_ip", c.ClientIP(),
	)
}
