package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TaskIdentityArgs scopes the role's trust to the stack's account and region.
type TaskIdentityArgs struct {
	Env awsEnv
}

// TaskIdentity is the app's IAM identity: the ECS task role, with a trust policy and no
// permissions yet. It comes first because the app key's policy names it; the service attaches its
// permissions once the key and the database secret exist.
type TaskIdentity struct {
	pulumi.ResourceState

	Role        *iam.Role
	TaskRoleARN pulumi.StringOutput
}

func newTaskIdentity(ctx *pulumi.Context, name string, args TaskIdentityArgs, opts ...pulumi.ResourceOption) (*TaskIdentity, error) {
	t := &TaskIdentity{}
	if err := ctx.RegisterComponentResource("kmswatch:identity:TaskIdentity", name, t, opts...); err != nil {
		return nil, err
	}
	// Only ECS tasks in this account and region may assume the role (confused-deputy guard).
	// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
	trust := assumeRolePolicy("ecs-tasks.amazonaws.com", func(s statement) statement {
		return s.
			when("ArnLike", "aws:SourceArn", args.Env.arn("ecs", "*")).
			when("StringEquals", "aws:SourceAccount", args.Env.Account)
	})
	role, err := iam.NewRole(ctx, name+"-task-role", &iam.RoleArgs{
		Description:      pulumi.String("kmswatch app task role: uses the app key and reads the database secret"),
		AssumeRolePolicy: pulumi.String(trust),
	}, pulumi.Parent(t))
	if err != nil {
		return nil, err
	}
	t.Role = role
	t.TaskRoleARN = role.Arn
	return t, ctx.RegisterResourceOutputs(t, pulumi.Map{"taskRoleArn": role.Arn})
}
