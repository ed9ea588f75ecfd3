package awsdouble_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

// TestForcedDeploymentStartsTasksWithFreshSessions: the tasks UpdateService starts run with sessions issued at
// the deployment, the old task's session still authenticates (STS credentials outlive their task), and
// DescribeServices shows a steady, completed deployment.
func TestForcedDeploymentStartsTasksWithFreshSessions(t *testing.T) {
	clock := &steppingClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	d := mustStart(t, awsdouble.Options{Now: clock.Now, DesiredCount: 2})
	ctx := testContext(t)
	before := d.Tasks("kmswatch", "kmswatch-app")
	if len(before) != 2 || before[0].Session.Credentials != awsdouble.DefaultCredentials || before[1].Session.AccessKeyID == before[0].Session.AccessKeyID {
		t.Fatalf("at start: %+v, want 2 tasks, the first with DefaultCredentials", before)
	}
	out, err := d.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("arn:aws:ecs:us-east-1:111122223333:cluster/kmswatch"), Service: aws.String("kmswatch-app"), ForceNewDeployment: true,
	})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	deployedAt := clock.peek()
	after := d.Tasks("kmswatch", "kmswatch-app")
	if len(after) != 2 {
		t.Fatalf("%d tasks after the deployment, want 2", len(after))
	}
	for _, task := range after {
		if task.ID == before[0].ID || task.ID == before[1].ID || !task.Session.Issued.Equal(deployedAt) || task.Started != task.Session.Issued {
			t.Errorf("task %s issued %s, want a new task issued at the deployment %s", task.ID, task.Session.Issued, deployedAt)
		}
	}
	svc := out.Service
	if aws.ToString(svc.ServiceArn) != "arn:aws:ecs:us-east-1:111122223333:service/kmswatch/kmswatch-app" || svc.RunningCount != 2 ||
		svc.DesiredCount != 2 || len(svc.Deployments) != 1 || aws.ToString(svc.Deployments[0].Status) != "PRIMARY" ||
		svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted {
		t.Errorf("UpdateService answer: %+v", svc)
	}
	rec := lastRecord(t, d)
	if rec.EventSource != "ecs.amazonaws.com" || rec.EventName != "UpdateService" || rec.ReadOnly == nil || *rec.ReadOnly ||
		string(rec.RequestParameters) != `{"cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/kmswatch","service":"kmswatch-app","forceNewDeployment":true}` ||
		len(rec.ResponseElements) < 100 {
		t.Errorf("UpdateService record: %s %s readOnly %v params %s response %s", rec.EventSource, rec.EventName, rec.ReadOnly, rec.RequestParameters, rec.ResponseElements)
	}
	mustEncryptWith(t, d.as(before[1].Session.Credentials, ""), d.CreateKey("").ID) // the stopped task's session still authenticates

	desc, err := d.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("kmswatch"), Services: []string{"kmswatch-app", "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Services) != 1 || desc.Services[0].RunningCount != 2 || len(desc.Failures) != 1 ||
		aws.ToString(desc.Failures[0].Reason) != "MISSING" || aws.ToString(desc.Failures[0].Arn) != "arn:aws:ecs:us-east-1:111122223333:service/kmswatch/gone" {
		t.Errorf("DescribeServices = %+v", desc)
	}

	if _, err := d.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("kmswatch"), Service: aws.String("kmswatch-app"), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Tasks("kmswatch", "kmswatch-app")); n != 3 {
		t.Errorf("after scaling to 3: %d tasks", n)
	}
}

func TestECSErrors(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	ctx := testContext(t)
	cases := []struct {
		name     string
		in       ecs.UpdateServiceInput
		isWanted func(error) bool
		wantCode string
		wantMsg  string
	}{
		{"unknown cluster", ecs.UpdateServiceInput{Cluster: aws.String("other"), Service: aws.String("kmswatch-app")},
			isA[*ecstypes.ClusterNotFoundException], "ClusterNotFoundException", "Cluster not found."},
		{"the default cluster when none is named", ecs.UpdateServiceInput{Service: aws.String("kmswatch-app")},
			isA[*ecstypes.ClusterNotFoundException], "ClusterNotFoundException", "Cluster not found."},
		{"unknown service", ecs.UpdateServiceInput{Cluster: aws.String("kmswatch"), Service: aws.String("other")},
			isA[*ecstypes.ServiceNotFoundException], "ServiceNotFoundException", "Service not found."},
		{"a member the double does not model", ecs.UpdateServiceInput{Cluster: aws.String("kmswatch"), Service: aws.String("kmswatch-app"), TaskDefinition: aws.String("td:2")},
			isA[*ecstypes.InvalidParameterException], "InvalidParameterException", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.ECS.UpdateService(ctx, &tc.in)
			if !tc.isWanted(err) || errorCode(err) != tc.wantCode || httpStatus(err) != 400 || (tc.wantMsg != "" && errorMessage(err) != tc.wantMsg) {
				t.Errorf("err = %v (status %d), want %s %q", err, httpStatus(err), tc.wantCode, tc.wantMsg)
			}
		})
	}
}
