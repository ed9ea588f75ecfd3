// Command responder is kmswatch's Lambda function (provided.al2023, arm64, binary "bootstrap"):
// CloudWatch alarms that contain invoke it directly, and so does the EventBridge rule for key
// deletions. It wires the responder's executor to the aws-sdk-go-v2 clients and the record table;
// what it does is decided in package responder. Its settings come from the environment that
// infra/response.go sets (see settings below).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/dynamodb"
	"github.com/kmswatch/kmswatch/infra/responder/executor"
)

// The environment the stack gives the function (infra/response.go writes the same names).
const (
	envMode     = "RESPONSE_MODE"
	envRoleName = "TASK_ROLE_NAME"
	envRoleARN  = "TASK_ROLE_ARN"
	envCluster  = "ECS_CLUSTER"
	envService  = "ECS_SERVICE"
	envAppKey   = "APP_KEY_ARN"
	envAuditKey = "AUDIT_KEY_ARN"
	envAlarms   = "CONTAIN_ON_ALARMS" // comma-separated alarm names
	envInterval = "CONTAINMENT_INTERVAL"
	envTable    = "RECORD_TABLE"
	envTopic    = "ALERT_TOPIC_ARN"
)

// settings is the responder's whole configuration, read once at cold start.
type settings struct {
	Stack    responder.Stack
	Table    string
	TopicARN string
}

func loadSettings(getenv func(string) string) (settings, error) {
	var errs []error
	get := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			errs = append(errs, fmt.Errorf("%s not set", name))
		}
		return v
	}
	s := settings{Stack: responder.Stack{
		Mode:         responder.Mode(get(envMode)),
		TaskRoleName: get(envRoleName),
		TaskRoleARN:  get(envRoleARN),
		Cluster:      get(envCluster),
		Service:      get(envService),
		AppKeyARN:    get(envAppKey),
		AuditKeyARN:  get(envAuditKey),
	}, Table: get(envTable), TopicARN: get(envTopic)}
	for _, a := range strings.Split(get(envAlarms), ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.Stack.ContainOnAlarms = append(s.Stack.ContainOnAlarms, a)
		}
	}
	if v := get(envInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want a duration such as 1h", envInterval, v))
		}
		s.Stack.ContainmentInterval = d
	}
	if len(errs) > 0 {
		return settings{}, errors.Join(errs...)
	}
	if err := s.Stack.Validate(); err != nil {
		return settings{}, err
	}
	return s, nil
}

// newExecutor builds the clients from the default AWS configuration (the function's role; or
// AWS_ENDPOINT_URL and the usual variables when run against the double).
func newExecutor(cfg aws.Config, s settings, log *slog.Logger) *executor.Executor {
	return &executor.Executor{
		Stack:    s.Stack,
		IAM:      iam.NewFromConfig(cfg),
		ECS:      ecs.NewFromConfig(cfg),
		KMS:      kms.NewFromConfig(cfg),
		SNS:      sns.NewFromConfig(cfg),
		Store:    dynamodb.Store{Client: awsdynamodb.NewFromConfig(cfg), Table: s.Table},
		TopicARN: s.TopicARN,
		Table:    s.Table,
		Log:      log,
	}
}

// outcome is the function's result: Lambda discards it for asynchronous invocations (alarm and
// EventBridge both invoke so), but a test invoke shows it.
type outcome struct {
	Record   string             `json:"record,omitempty"`
	Decision responder.Decision `json:"decision"`
	Status   responder.Status   `json:"status,omitempty"`
	Why      string             `json:"why"`
}

func handler(e *executor.Executor) func(context.Context, json.RawMessage) (outcome, error) {
	return func(ctx context.Context, payload json.RawMessage) (outcome, error) {
		rec, err := e.Handle(ctx, payload)
		return outcome{Record: rec.ID, Decision: rec.Plan.Decision, Status: rec.Status, Why: rec.Plan.Why}, err
	}
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	s, err := loadSettings(os.Getenv)
	if err != nil {
		log.Error("invalid settings", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(newExecutor(cfg, s, log)))
}
