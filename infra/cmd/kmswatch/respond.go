package main

import (
	"context"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/config"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/kmswatch/kmswatch/infra/responder/dynamodb"
	"github.com/kmswatch/kmswatch/infra/responder/executor"
)

// tableFlagHelp says where the table's name comes from.
const tableFlagHelp = "the responder's record table: the stack output responderTable (pulumi stack output responderTable)"

// tableNamePattern is what DynamoDB accepts as a table name.
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html#DDB-CreateTable-request-TableName
var tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// recordIDPattern is responder.RecordID's shape: the trigger's UTC time and 8 hex digits.
var recordIDPattern = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{8}$`)

// newResponderClient builds what release and status call, from the default AWS configuration
// (profile, environment, SSO; AWS_ENDPOINT_URL points it at a double). Tests replace it.
var newResponderClient = func(ctx context.Context, table string) (*executor.Executor, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region: set AWS_REGION (or a profile's region) to the stack's region")
	}
	return &executor.Executor{
		IAM:   iam.NewFromConfig(cfg),
		KMS:   kms.NewFromConfig(cfg),
		Store: dynamodb.Store{Client: awsdynamodb.NewFromConfig(cfg), Table: table},
		Table: table,
	}, nil
}

// checkTable says what is wrong with a --table value, if anything.
func checkTable(table string) (string, bool) {
	switch {
	case table == "":
		return "--table is required: " + tableFlagHelp, false
	case !tableNamePattern.MatchString(table):
		return fmt.Sprintf("--table %q is not a DynamoDB table name", table), false
	}
	return "", true
}
