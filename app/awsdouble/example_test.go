package awsdouble_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// The containment loop as a responder drives it: stolen task credentials used from elsewhere are refused once
// the task role's older sessions are revoked, and the tasks a forced deployment starts keep working.
func Example_containment() {
	clock := &steppingClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	double := awsdouble.New(awsdouble.Options{Now: clock.Now})
	endpoint := httptest.NewServer(double)
	defer endpoint.Close()
	ctx := context.Background()
	key := double.CreateKey("alias/kmswatch-app")
	topic := double.CreateTopic("kmswatch-dev-alerts")

	app := kms.NewFromConfig(awsdouble.ClientConfig(endpoint.URL)) // the first task's session
	blob, _ := app.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key.ID), Plaintext: []byte("Hello, KMS")})
	attacker := kms.NewFromConfig(awsdouble.ClientConfigFor(endpoint.URL, awsdouble.DefaultCredentials, "198.51.100.23"))

	responder, _ := double.AssumeRole("arn:aws:iam::111122223333:role/kmswatch-responder", "kmswatch-responder")
	cfg := awsdouble.ClientConfigFor(endpoint.URL, responder.Credentials, "")
	revoke := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + clock.peek().Format(time.RFC3339) + `"}}}}`
	_, _ = iam.NewFromConfig(cfg).PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String("kmswatch-task"), PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revoke)})
	_, _ = ecs.NewFromConfig(cfg).UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("kmswatch"), Service: aws.String("kmswatch-app"), ForceNewDeployment: true})
	_, _ = sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("contained")})

	_, err := attacker.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		fmt.Println("stolen credentials:", apiErr.ErrorCode())
	}
	fresh := double.Tasks("kmswatch", "kmswatch-app")[0].Session.Credentials
	out, err := kms.NewFromConfig(awsdouble.ClientConfigFor(endpoint.URL, fresh, "")).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	fmt.Printf("fresh task: %s %v\n", out.Plaintext, err)
	fmt.Println("announced:", double.Messages(topic)[0].Message)
	fmt.Println("inline policies:", len(double.RolePolicies("kmswatch-task")))
	// Output:
	// stolen credentials: AccessDeniedException
	// fresh task: Hello, KMS <nil>
	// announced: contained
	// inline policies: 1
}
