package awsdouble_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

func TestGetSecretValueByNameAndARN(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	d := mustStart(t, awsdouble.Options{Now: func() time.Time { return now }})
	arn := d.PutSecret("kmswatch/db", `{"password":"hunter2"}`)
	if !regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:111122223333:secret:kmswatch/db-[A-Za-z0-9]{6}$`).MatchString(arn) {
		t.Fatalf("ARN %q is not in Secrets Manager's shape", arn)
	}
	for _, id := range []string{"kmswatch/db", arn} {
		out, err := d.Secrets.GetSecretValue(testContext(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetSecretValue(%s): %v", id, err)
		}
		if aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "kmswatch/db" || aws.ToString(out.SecretString) != `{"password":"hunter2"}` {
			t.Errorf("GetSecretValue(%s) = ARN %q Name %q SecretString %q", id, aws.ToString(out.ARN), aws.ToString(out.Name), aws.ToString(out.SecretString))
		}
		if len(out.VersionStages) != 1 || out.VersionStages[0] != "AWSCURRENT" || aws.ToString(out.VersionId) == "" {
			t.Errorf("VersionStages %v VersionId %q", out.VersionStages, aws.ToString(out.VersionId))
		}
		if !aws.ToTime(out.CreatedDate).Equal(now) {
			t.Errorf("CreatedDate = %v, want %v", aws.ToTime(out.CreatedDate), now)
		}
	}
}

func TestPutSecretReplacesWithNewVersion(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	get := func() *secretsmanager.GetSecretValueOutput {
		t.Helper()
		out, err := d.Secrets.GetSecretValue(testContext(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	arn1 := d.PutSecret("db", "one")
	first := get()
	arn2 := d.PutSecret("db", "two")
	second := get()
	if arn1 != arn2 {
		t.Errorf("ARN changed on replace: %q then %q", arn1, arn2)
	}
	if aws.ToString(second.SecretString) != "two" || aws.ToString(second.VersionId) == aws.ToString(first.VersionId) {
		t.Errorf("after replace: SecretString %q, VersionId %q (was %q)", aws.ToString(second.SecretString), aws.ToString(second.VersionId), aws.ToString(first.VersionId))
	}
	_, err := d.Secrets.GetSecretValue(testContext(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String("db"), VersionId: first.VersionId})
	if !isA[*smtypes.ResourceNotFoundException](err) {
		t.Errorf("old VersionId: err = %v, want ResourceNotFoundException (only the current version is kept)", err)
	}
}
