package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	awsxecr "github.com/pulumi/pulumi-awsx/sdk/v2/go/awsx/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The image is built for Graviton and the task asks Fargate for the same architecture.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#runtime-platform
const (
	imagePlatform       = "linux/arm64"
	taskCPUArchitecture = "ARM64"
	taskOSFamily        = "LINUX"
	containerName       = "app"
	// The image runs as this non-root user (distroless "nonroot").
	containerUser = "65532:65532"
	// Paths relative to the program's directory (infra/), where Pulumi runs it and its providers:
	// the context is the repository root because go.mod is there.
	buildContext = ".."
	dockerfile   = "../app/Dockerfile"
)

// On stop, ECS sends SIGTERM and, stopTimeout later, SIGKILL. The app drains requests and closes
// its pool for at most shutdownTimeout (its SHUTDOWN_TIMEOUT), which must end before the SIGKILL.
// stopTimeout is set rather than left to ECS's default (30s); Fargate accepts up to 120s.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_timeout
const (
	shutdownTimeout = 20 * time.Second
	stopTimeout     = 30 * time.Second
)

// ServiceArgs wires the app to the network, its key, its database and the audit key for its logs.
type ServiceArgs struct {
	Env                         awsEnv
	Names                       stackNames
	VpcID                       pulumi.StringInput
	PublicSubnetIDs             pulumi.StringArrayInput
	PrivateSubnetIDs            pulumi.StringArrayInput
	LoadBalancerSecurityGroupID pulumi.IDInput
	ServiceSecurityGroupID      pulumi.IDInput
	NetworkReady                []pulumi.Resource // security group rules and private routes, which tasks need to start
	TaskRole                    *iam.Role
	AppKeyARN                   pulumi.StringInput
	AuditKeyARN                 pulumi.StringInput
	DBAddress                   pulumi.StringInput
	DBPort                      pulumi.IntInput
	DBName                      string
	DBSecretARN                 pulumi.StringInput
	DesiredCount                int
	MinCount                    int
	MaxCount                    int
	CertificateARN              string
	DomainName                  string
	HostedZoneID                string
	LogRetentionDays            int
	Protect                     bool
}

// Service is the app: its image, its log group, its roles, and the Fargate service behind the load balancer.
type Service struct {
	pulumi.ResourceState

	URL                 pulumi.StringOutput
	LoadBalancerDNSName pulumi.StringOutput
	ImageURI            pulumi.StringOutput
	AppLogGroupName     pulumi.StringOutput
}

func newService(ctx *pulumi.Context, name string, args ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	s := &Service{}
	if err := ctx.RegisterComponentResource("kmswatch:service:Service", name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)

	repo, err := ecr.NewRepository(ctx, name+"-repo", &ecr.RepositoryArgs{
		Name:                       pulumi.String(args.Names.Repository()),
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
		ForceDelete:                pulumi.Bool(!args.Protect),
	}, parent, pulumi.RetainOnDelete(args.Protect))
	if err != nil {
		return nil, err
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-repo-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy: pulumi.String(`{"rules":[{"rulePriority":1,"description":"keep the last 10 images",` +
			`"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}`),
	}, parent, pulumi.RetainOnDelete(args.Protect)); err != nil {
		return nil, err
	}
	image, err := awsxecr.NewImage(ctx, name+"-image", &awsxecr.ImageArgs{
		RepositoryUrl: repo.RepositoryUrl,
		Context:       pulumi.String(buildContext),
		Dockerfile:    pulumi.String(dockerfile),
		Platform:      pulumi.String(imagePlatform),
	}, parent)
	if err != nil {
		return nil, err
	}

	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(args.Names.AppLogGroup()),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        args.AuditKeyARN,
	}, parent, pulumi.RetainOnDelete(args.Protect))
	if err != nil {
		return nil, err
	}

	execRole, execPolicy, err := newExecutionRole(ctx, name, repo.Arn, logGroup.Arn, parent)
	if err != nil {
		return nil, err
	}
	taskPolicy, err := iam.NewRolePolicy(ctx, name+"-task-policy", &iam.RolePolicyArgs{
		Role:   args.TaskRole.Name,
		Policy: taskRolePolicy(args.AppKeyARN, args.DBSecretARN),
	}, parent)
	if err != nil {
		return nil, err
	}

	containers := pulumi.All(image.ImageUri, args.AppKeyARN, args.DBSecretARN, args.DBAddress, args.DBPort).ApplyT(
		func(v []any) (string, error) {
			return containerDefinitions(containerSettings{
				Image:          v[0].(string),
				KeyARN:         v[1].(string),
				SecretARN:      v[2].(string),
				DBHost:         v[3].(string),
				DBPort:         v[4].(int),
				DBName:         args.DBName,
				Region:         args.Env.Region,
				LogGroup:       args.Names.AppLogGroup(),
				LogStreamPx:    containerName,
				MetricsService: args.Names.Prefix(),
			})
		}).(pulumi.StringOutput)
	taskDef, err := ecs.NewTaskDefinition(ctx, name+"-task", &ecs.TaskDefinitionArgs{
		Family:                  pulumi.String(args.Names.TaskFamily()),
		Cpu:                     pulumi.String("256"),
		Memory:                  pulumi.String("512"),
		NetworkMode:             pulumi.String("awsvpc"),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("FARGATE")},
		RuntimePlatform: &ecs.TaskDefinitionRuntimePlatformArgs{
			CpuArchitecture:       pulumi.String(taskCPUArchitecture),
			OperatingSystemFamily: pulumi.String(taskOSFamily),
		},
		ExecutionRoleArn:     execRole.Arn,
		TaskRoleArn:          args.TaskRole.Arn,
		ContainerDefinitions: containers,
	}, parent, pulumi.DependsOn([]pulumi.Resource{logGroup}))
	if err != nil {
		return nil, err
	}

	lb, err := newLoadBalancer(ctx, name, loadBalancerArgs{
		VpcID:           args.VpcID,
		PublicSubnetIDs: args.PublicSubnetIDs,
		SecurityGroupID: args.LoadBalancerSecurityGroupID,
		CertificateARN:  args.CertificateARN,
		DomainName:      args.DomainName,
		HostedZoneID:    args.HostedZoneID,
		Protect:         args.Protect,
	}, parent)
	if err != nil {
		return nil, err
	}

	cluster, err := ecs.NewCluster(ctx, name+"-cluster", &ecs.ClusterArgs{
		Name: pulumi.String(args.Names.Cluster()),
	}, parent)
	if err != nil {
		return nil, err
	}
	svc, err := ecs.NewService(ctx, name+"-service", &ecs.ServiceArgs{
		Name:           pulumi.String(containerName),
		Cluster:        cluster.Arn,
		TaskDefinition: taskDef.Arn,
		LaunchType:     pulumi.String("FARGATE"),
		DesiredCount:   pulumi.Int(args.DesiredCount),
		NetworkConfiguration: &ecs.ServiceNetworkConfigurationArgs{
			Subnets:        args.PrivateSubnetIDs,
			SecurityGroups: pulumi.StringArray{args.ServiceSecurityGroupID.ToIDOutput().ToStringOutput()},
			AssignPublicIp: pulumi.Bool(false),
		},
		LoadBalancers: ecs.ServiceLoadBalancerArray{ecs.ServiceLoadBalancerArgs{
			TargetGroupArn: lb.TargetGroupARN,
			ContainerName:  pulumi.String(containerName),
			ContainerPort:  pulumi.Int(containerPort),
		}},
		HealthCheckGracePeriodSeconds: pulumi.Int(60),
		DeploymentCircuitBreaker: &ecs.ServiceDeploymentCircuitBreakerArgs{
			Enable: pulumi.Bool(true), Rollback: pulumi.Bool(true),
		},
		PropagateTags:      pulumi.String("SERVICE"),
		WaitForSteadyState: pulumi.Bool(true),
	}, parent,
		// ECS rejects a target group not yet attached to a load balancer. Tasks need the execution
		// role's policy to pull the image and write logs (the role alone lets them do nothing),
		// the task role's policy, a route out through NAT, and the security group rules to pull
		// the image, pass health checks and reach the database.
		// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
		pulumi.DependsOn(slices.Concat(lb.Listeners, []pulumi.Resource{taskPolicy, execPolicy}, args.NetworkReady)),
		// Autoscaling owns the running count after the first deployment.
		pulumi.IgnoreChanges([]string{"desiredCount"}))
	if err != nil {
		return nil, err
	}

	if err := newAutoscaling(ctx, name, cluster.Name, svc.Name, args.MinCount, args.MaxCount, parent); err != nil {
		return nil, err
	}

	s.URL = lb.URL
	s.LoadBalancerDNSName = lb.DNSName
	s.ImageURI = image.ImageUri
	s.AppLogGroupName = logGroup.Name
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"url":             s.URL,
		"imageUri":        s.ImageURI,
		"appLogGroupName": s.AppLogGroupName,
	})
}

// taskRolePolicy is the app's only permissions: its key, for the two operations it performs,
// and the database secret. No wildcard action or resource.
func taskRolePolicy(keyARN, secretARN pulumi.StringInput) pulumi.StringOutput {
	return pulumi.All(keyARN, secretARN).ApplyT(func(v []any) string {
		return newPolicy(
			allow("UseTheAppKey", appKeyUse...).on(v[0].(string)),
			allow("ReadTheDatabaseSecret", "secretsmanager:GetSecretValue").on(v[1].(string)),
		).JSON()
	}).(pulumi.StringOutput)
}

// newExecutionRole lets ECS pull the image and write the app's logs, nothing else.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
func newExecutionRole(ctx *pulumi.Context, name string, repoARN, logGroupARN pulumi.StringOutput, parent pulumi.ResourceOption) (*iam.Role, *iam.RolePolicy, error) {
	role, err := iam.NewRole(ctx, name+"-exec-role", &iam.RoleArgs{
		Description:      pulumi.String("kmswatch task execution: pull the app image, write its logs"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("ecs-tasks.amazonaws.com")),
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	policy := pulumi.All(repoARN, logGroupARN).ApplyT(func(v []any) string {
		return newPolicy(
			// GetAuthorizationToken has no resource-level permissions; "*" is the only valid resource.
			// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html
			allow("EcrLogin", "ecr:GetAuthorizationToken").on("*"),
			allow("PullTheAppImage", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage").on(v[0].(string)),
			allow("WriteTheAppLogs", "logs:CreateLogStream", "logs:PutLogEvents").on(v[1].(string)+":log-stream:*"),
		).JSON()
	}).(pulumi.StringOutput)
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-exec-policy", &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, parent)
	if err != nil {
		return nil, nil, err
	}
	return role, rolePolicy, nil
}

// containerSettings are the values the container definition is rendered from.
type containerSettings struct {
	Image, KeyARN, SecretARN, DBHost, DBName, Region, LogGroup, LogStreamPx string
	MetricsService                                                          string // the app's EMF Service dimension: one per stack
	DBPort                                                                  int
}

type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// containerDefinition is the subset of the ECS container definition the app uses.
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html
type containerDefinition struct {
	Name                   string        `json:"name"`
	Image                  string        `json:"image"`
	Essential              bool          `json:"essential"`
	User                   string        `json:"user"`
	ReadonlyRootFilesystem bool          `json:"readonlyRootFilesystem"`
	StopTimeout            int           `json:"stopTimeout"` // seconds
	PortMappings           []portMapping `json:"portMappings"`
	Environment            []keyValue    `json:"environment"`
	LinuxParameters        struct {
		Capabilities struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
		InitProcessEnabled bool `json:"initProcessEnabled"`
	} `json:"linuxParameters"`
	LogConfiguration struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

type portMapping struct {
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

func containerDefinitions(c containerSettings) (string, error) {
	def := containerDefinition{
		Name:                   containerName,
		Image:                  c.Image,
		Essential:              true,
		User:                   containerUser,
		ReadonlyRootFilesystem: true,
		StopTimeout:            int(stopTimeout / time.Second),
		PortMappings:           []portMapping{{ContainerPort: containerPort, Protocol: "tcp"}},
		Environment: []keyValue{
			{"KMS_KEY_ID", c.KeyARN},
			{"DB_SECRET_ARN", c.SecretARN},
			{"DB_HOST", c.DBHost},
			{"DB_PORT", strconv.Itoa(c.DBPort)},
			{"DB_NAME", c.DBName},
			{"AWS_REGION", c.Region},
			// The load balancer sits in the VPC: trust its X-Forwarded-For, so logs show the client.
			// The app reads a comma-separated list of CIDRs.
			{"TRUSTED_PROXIES", vpcCIDR},
			{"SHUTDOWN_TIMEOUT", shutdownTimeout.String()},
			// The Service dimension of the app's EMF metrics (app/emf): the stack's name prefix, so
			// that two stacks in one account keep their counts apart.
			{"METRICS_SERVICE", c.MetricsService},
		},
	}
	def.LinuxParameters.Capabilities.Drop = []string{"ALL"}
	def.LinuxParameters.InitProcessEnabled = true
	def.LogConfiguration.LogDriver = "awslogs"
	def.LogConfiguration.Options = map[string]string{
		"awslogs-group":         c.LogGroup,
		"awslogs-region":        c.Region,
		"awslogs-stream-prefix": c.LogStreamPx,
		// The decrypt_served lines are the evidence app-decrypt-unserved and the offline join
		// count on. ECS: "If you use the blocking mode and the flow of logs is interrupted, calls
		// from container code to write to the stdout and stderr streams will block"; in
		// non-blocking mode, "When the buffer fills up, further logs cannot be stored. Logs that
		// cannot be stored are lost", and since June 25, 2025 non-blocking is the default when
		// mode is unset. So blocking, set here: a lost line would read as a decrypt the app did
		// not serve. The price is an app that stalls while CloudWatch Logs cannot take its lines.
		// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LogConfiguration.html
		"mode": "blocking",
	}
	out, err := json.Marshal([]containerDefinition{def})
	if err != nil {
		return "", fmt.Errorf("container definitions: %w", err)
	}
	return string(out), nil
}

// newAutoscaling keeps average CPU near 60% between min and max tasks.
func newAutoscaling(ctx *pulumi.Context, name string, cluster, service pulumi.StringOutput, minCount, maxCount int, parent pulumi.ResourceOption) error {
	target, err := appautoscaling.NewTarget(ctx, name+"-scaling-target", &appautoscaling.TargetArgs{
		ServiceNamespace:  pulumi.String("ecs"),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"),
		// https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
		ResourceId:  pulumi.Sprintf("service/%s/%s", cluster, service),
		MinCapacity: pulumi.Int(minCount),
		MaxCapacity: pulumi.Int(maxCount),
	}, parent)
	if err != nil {
		return err
	}
	_, err = appautoscaling.NewPolicy(ctx, name+"-scaling-cpu", &appautoscaling.PolicyArgs{
		PolicyType:        pulumi.String("TargetTrackingScaling"),
		ServiceNamespace:  target.ServiceNamespace,
		ScalableDimension: target.ScalableDimension,
		ResourceId:        target.ResourceId,
		TargetTrackingScalingPolicyConfiguration: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
			PredefinedMetricSpecification: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
				PredefinedMetricType: pulumi.String("ECSServiceAverageCPUUtilization"),
			},
			TargetValue:      pulumi.Float64(60),
			ScaleOutCooldown: pulumi.Int(60),
			ScaleInCooldown:  pulumi.Int(120),
		},
	}, parent)
	return err
}
