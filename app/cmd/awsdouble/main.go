// Command awsdouble serves the KMS and Secrets Manager doubles on one address, for `make local` and
// `make bench`. Point the SDK at it with AWS_ENDPOINT_URL; with --trail-file it appends one CloudTrail
// record per request as a JSON line, which `kmswatch replay` reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "awsdouble:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// Config is what the flags set.
type Config struct {
	Addr      string
	KeyID     string
	Alias     string
	RoleARN   string
	Region    string
	AccountID string
	TrailFile string
	Secrets   []secretFlag
}

type secretFlag struct{ name, value string }

type secretFlags struct{ list *[]secretFlag }

func (f secretFlags) String() string { return "" }
func (f secretFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	*f.list = append(*f.list, secretFlag{name, value})
	return nil
}

// parseFlags reads args into a Config; usage errors wrap errUsage.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("awsdouble", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:4566", "listen address")
	fs.StringVar(&c.KeyID, "key-id", "1234abcd-12ab-34cd-56ef-1234567890ab", "id of the KMS key to create")
	fs.StringVar(&c.Alias, "alias", "alias/kmswatch-local", `alias of that key ("" for none)`)
	fs.StringVar(&c.RoleARN, "role-arn", "arn:aws:iam::111122223333:role/kmswatch-task", "IAM role the caller is recorded as")
	fs.StringVar(&c.Region, "region", "us-east-1", "AWS region in ARNs and records")
	fs.StringVar(&c.AccountID, "account", "111122223333", "AWS account id in ARNs and records")
	fs.StringVar(&c.TrailFile, "trail-file", "", "append each CloudTrail record to this file as a JSON line")
	fs.Var(secretFlags{&c.Secrets}, "secret", "name=value: a Secrets Manager secret to create (repeatable)")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if len(c.KeyID) == 0 || len(c.KeyID) > 255 {
		return c, fmt.Errorf("%w: --key-id must be 1 to 255 characters", errUsage)
	}
	return c, nil
}

// Run serves until ctx is done, then shuts down gracefully and flushes the trail file.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	opts := awsdouble.Options{Region: cfg.Region, AccountID: cfg.AccountID, RoleARN: cfg.RoleARN}
	var trail *trailWriter
	if cfg.TrailFile != "" {
		// 100 ms: a replay run right after a curl sees its records; the buffer still batches under load.
		if trail, err = openTrail(cfg.TrailFile, 100*time.Millisecond); err != nil {
			return err
		}
		defer trail.Close()
		opts.OnRecord = trail.Write
	}
	double := awsdouble.New(opts)
	key := double.CreateKeyWithID(cfg.KeyID, cfg.Alias)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	// AWS_ENDPOINT_URL comes last: once it is printed the double is listening, so scripts can wait for it.
	fmt.Fprintf(stdout, "KMS_KEY_ID=%s\n", key.ID)
	fmt.Fprintf(stdout, "KMS_KEY_ARN=%s\n", key.ARN)
	if cfg.Alias != "" {
		fmt.Fprintf(stdout, "KMS_KEY_ALIAS=%s\n", cfg.Alias)
	}
	for _, sec := range cfg.Secrets {
		fmt.Fprintf(stdout, "SECRET_%s_ARN=%s\n", envName(sec.name), double.PutSecret(sec.name, sec.value))
	}
	if cfg.TrailFile != "" {
		fmt.Fprintf(stdout, "TRAIL_FILE=%s\n", cfg.TrailFile)
	}
	fmt.Fprintf(stdout, "AWS_REGION=%s\n", cfg.Region)
	fmt.Fprintf(stdout, "AWS_ENDPOINT_URL=http://%s\n", ln.Addr())

	srv := &http.Server{Handler: double, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if trail != nil {
		return trail.Close()
	}
	return nil
}

// envName turns a secret name such as "kmswatch/db-password" into "KMSWATCH_DB_PASSWORD".
func envName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}
