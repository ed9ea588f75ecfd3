package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/kmswatch/kmswatch/app/emf"
)

// Config is the service's configuration, read from the environment only.
// Endpoints for KMS and Secrets Manager are not here on purpose: the SDK reads
// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KMS and AWS_ENDPOINT_URL_SECRETS_MANAGER.
type Config struct {
	Port int `env:"PORT" envDefault:"8080"`
	// BindAddress is the IP address to listen on; empty (the default) is
	// every interface, which the container needs. 127.0.0.1 for a laptop.
	BindAddress string `env:"BIND_ADDRESS"`
	KMSKeyID    string `env:"KMS_KEY_ID,required,notEmpty"`
	AWSRegion   string `env:"AWS_REGION,required,notEmpty"`
	// MetricsService is the Service dimension of the EMF metrics (app/emf):
	// one value per stack, so that stacks in one account keep apart.
	MetricsService string `env:"METRICS_SERVICE" envDefault:"kmswatch-app"`

	// Either DATABASE_URL (local) or the RDS set: DB_SECRET_ARN names the
	// RDS-managed master secret {"username","password"}.
	DatabaseURL string `env:"DATABASE_URL"`
	DBSecretARN string `env:"DB_SECRET_ARN"`
	DBHost      string `env:"DB_HOST"`
	DBPort      int    `env:"DB_PORT" envDefault:"5432"`
	DBName      string `env:"DB_NAME"`
	DBSSLMode   string `env:"DB_SSLMODE" envDefault:"require"`

	DBMaxConns      int32          `env:"DB_MAX_CONNS" envDefault:"16"`
	LogLevel        slog.Level     `env:"LOG_LEVEL" envDefault:"info"` // debug adds one access log line per request
	TrustedProxies  []netip.Prefix `env:"TRUSTED_PROXIES"`             // CIDRs whose X-Forwarded-For is logged as the client
	StartupTimeout  time.Duration  `env:"STARTUP_TIMEOUT" envDefault:"60s"`
	ShutdownTimeout time.Duration  `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"` // below ECS's default stopTimeout (30s)
	// DebugAddr, if set, serves net/http/pprof there (e.g. 127.0.0.1:6060) for
	// profiling; never set it to a public address.
	DebugAddr string `env:"DEBUG_ADDR"`
}

// configError names the variable at fault, for a one-line start-up error.
type configError struct {
	Var, Problem string
}

func (e *configError) Error() string { return e.Var + ": " + e.Problem }

// LoadConfig reads the configuration from environ (os.Environ form is
// converted by the caller) and reports the first problem found.
func LoadConfig(environ map[string]string) (Config, error) {
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return cfg, firstEnvError(err)
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	sslModes := map[string]bool{"disable": true, "allow": true, "prefer": true, "require": true, "verify-ca": true, "verify-full": true}
	rds := c.DBSecretARN != "" || c.DBHost != "" || c.DBName != ""
	switch {
	case c.Port < 0 || c.Port > 65535:
		return &configError{"PORT", fmt.Sprintf("%d is not a TCP port (0-65535)", c.Port)}
	case c.BindAddress != "" && !isIPAddress(c.BindAddress):
		return &configError{"BIND_ADDRESS", fmt.Sprintf("%q is not an IP address; use e.g. 127.0.0.1 or ::1, or leave it unset for every interface", c.BindAddress)}
	case c.DatabaseURL != "" && rds:
		return &configError{"DATABASE_URL", "set either DATABASE_URL or DB_SECRET_ARN with DB_HOST and DB_NAME, not both"}
	case c.DatabaseURL == "" && !rds:
		return &configError{"DATABASE_URL", "not set; set DATABASE_URL, or DB_SECRET_ARN with DB_HOST, DB_PORT and DB_NAME"}
	case c.DatabaseURL != "":
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return &configError{"DATABASE_URL", "must be a postgres:// URL"} // the value may hold a password: not echoed
		}
	case c.DBSecretARN == "":
		return &configError{"DB_SECRET_ARN", "required with DB_HOST/DB_NAME (the RDS-managed master secret)"}
	case c.DBHost == "":
		return &configError{"DB_HOST", "required with DB_SECRET_ARN"}
	case c.DBName == "":
		return &configError{"DB_NAME", "required with DB_SECRET_ARN"}
	case c.DBPort < 1 || c.DBPort > 65535:
		return &configError{"DB_PORT", fmt.Sprintf("%d is not a TCP port (1-65535)", c.DBPort)}
	case !sslModes[c.DBSSLMode]:
		return &configError{"DB_SSLMODE", fmt.Sprintf("%q is not a libpq sslmode (disable, allow, prefer, require, verify-ca, verify-full)", c.DBSSLMode)}
	}
	if err := emf.ValidateService(c.MetricsService); err != nil {
		return &configError{"METRICS_SERVICE", err.Error()}
	}
	switch {
	case c.DBMaxConns < 1:
		return &configError{"DB_MAX_CONNS", "must be at least 1"}
	case c.StartupTimeout <= 0:
		return &configError{"STARTUP_TIMEOUT", "must be positive"}
	case c.ShutdownTimeout <= 0:
		return &configError{"SHUTDOWN_TIMEOUT", "must be positive"}
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			return &configError{"DEBUG_ADDR", "must be host:port, e.g. 127.0.0.1:6060"}
		}
	}
	return nil
}

// isIPAddress reports whether s is an IPv4 or IPv6 address (no zone, no port).
func isIPAddress(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// PostgresURL is DATABASE_URL, or the RDS endpoint without credentials
// (the store sets them from the secret before each connection).
func (c Config) PostgresURL() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort(c.DBHost, strconv.Itoa(c.DBPort)),
		Path:     "/" + c.DBName,
		RawQuery: url.Values{"sslmode": {c.DBSSLMode}}.Encode(),
	}
	return u.String()
}

// firstEnvError turns env's (aggregate) error into one configError.
func firstEnvError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var notSet env.VarIsNotSetError
	var empty env.EmptyVarError
	var parse env.ParseError
	switch {
	case errors.As(err, &notSet):
		return &configError{notSet.Key, "required, not set"}
	case errors.As(err, &empty):
		return &configError{empty.Key, "required, set but empty"}
	case errors.As(err, &parse):
		return &configError{envVarOf(parse.Name), fmt.Sprintf("invalid %s: %v", parse.Type, parse.Err)}
	}
	return err
}

// envVarOf maps a Config field name to its environment variable.
func envVarOf(field string) string {
	if f, ok := reflect.TypeOf(Config{}).FieldByName(field); ok {
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			return name
		}
	}
	return field
}
