// Command awsdouble serves the AWS double (KMS, Secrets Manager, IAM, STS, ECS, SNS, DynamoDB) on one address, for
// `make local` and `make bench`. It creates the app's key, a second key (decrypting with it is the lab's
// IncorrectKeyException) and a disabled key (the lab's DisabledException), and prints their ids and the
// credentials of the task role's session the app runs with. Point the SDK at it with AWS_ENDPOINT_URL; with
// --trail-file it appends one CloudTrail record per request as a JSON line, which `kmswatch replay` reads.
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
	Addr          string
	KeyID         string
	Alias         string
	OtherKeyID    string
	DisabledKeyID string
	RoleARN       string
	Region        string
	AccountID     string
	TrailFile     string
	Secrets       []secretFlag
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
	fs.StringVar(&c.OtherKeyID, "other-key-id", "0987dcba-09fe-87dc-65ba-ab0987654321", `id of a second, enabled key, alias/kmswatch-local-other ("" for none)`)
	fs.StringVar(&c.DisabledKeyID, "disabled-key-id", "1a2b3c4d-5e6f-1a2b-3c4d-5e6f1a2b3c4d", `id of a disabled key, alias/kmswatch-local-disabled ("" for none)`)
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
	for _, k := range []struct{ flag, id string }{{"--other-key-id", c.OtherKeyID}, {"--disabled-key-id", c.DisabledKeyID}} {
		if len(k.id) > 255 {
			return c, fmt.Errorf("%w: %s must be at most 255 characters", errUsage, k.flag)
		}
	}
	if err := awsdouble.CheckRoleARN(c.RoleARN); err != nil {
		return c, fmt.Errorf("%w: --role-arn: %w", errUsage, err)
	}
	if c.OtherKeyID == c.KeyID || c.DisabledKeyID == c.KeyID || (c.OtherKeyID != "" && c.OtherKeyID == c.DisabledKeyID) {
		return c, fmt.Errorf("%w: --key-id, --other-key-id and --disabled-key-id must differ", errUsage)
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
	var other, disabled awsdouble.Key
	if cfg.OtherKeyID != "" {
		other = double.CreateKeyWithID(cfg.OtherKeyID, "alias/kmswatch-local-other")
	}
	if cfg.DisabledKeyID != "" {
		disabled = double.CreateKeyWithID(cfg.DisabledKeyID, "alias/kmswatch-local-disabled")
		if err := double.DisableKey(disabled.ID); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	// AWS_ENDPOINT_URL comes last: once it is printed the double is listening, so scripts can wait for it.
	fmt.Fprintf(stdout, "KMS_KEY_ID=%s\n", key.ID)
	fmt.Fprintf(stdout, "KMS_KEY_ARN=%s\n", key.ARN)
	fmt.Fprintf(stdout, "TASK_ROLE_ARN=%s\n", cfg.RoleARN) // the role the trail records the caller as: replay's --role-arn
	if cfg.Alias != "" {
		fmt.Fprintf(stdout, "KMS_KEY_ALIAS=%s\n", cfg.Alias)
	}
	if other.ID != "" {
		fmt.Fprintf(stdout, "KMS_OTHER_KEY_ID=%s\nKMS_OTHER_KEY_ARN=%s\n", other.ID, other.ARN)
	}
	if disabled.ID != "" {
		fmt.Fprintf(stdout, "KMS_DISABLED_KEY_ID=%s\nKMS_DISABLED_KEY_ARN=%s\n", disabled.ID, disabled.ARN)
	}
	// The task role session the app runs with. These are AWS's documentation examples, valid against this
	// double only, printed so that scripts can export them.
	creds := awsdouble.DefaultCredentials
	fmt.Fprintf(stdout, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_SESSION_TOKEN=%s\n",
		creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
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
