package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/app/emf"
)

func TestImagePlatformMatchesTheTaskRuntime(t *testing.T) {
	run := mustRun(t, baseConfig())
	image := run.one("awsx:ecr:Image")
	task := run.one("aws:ecs/taskDefinition:TaskDefinition")
	// docker platform os/arch <-> ECS runtimePlatform {operatingSystemFamily, cpuArchitecture}.
	// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#runtime-platform
	ecsArch := map[string]string{"arm64": "ARM64", "amd64": "X86_64"}
	osName, arch, _ := strings.Cut(image.str("platform"), "/")
	if got := task.str("runtimePlatform", "cpuArchitecture"); got == "" || ecsArch[arch] != got {
		t.Errorf("image built for %q but the task asks for CPU %q", image.str("platform"), got)
	}
	if got := task.str("runtimePlatform", "operatingSystemFamily"); osName != "linux" || got != "LINUX" {
		t.Errorf("image OS %q, task OS family %q", osName, got)
	}
	if image.str("platform") != "linux/arm64" {
		t.Errorf("image platform %q, want linux/arm64 (Graviton)", image.str("platform"))
	}
	if image.str("repositoryUrl") != run.one("aws:ecr/repository:Repository").outStr("repositoryUrl") {
		t.Error("image is not pushed to the stack's repository")
	}
	// Pulumi runs the program and its providers in infra/: the context must be the module root.
	if _, err := os.Stat(filepath.Join(image.str("context"), "go.mod")); err != nil {
		t.Errorf("build context %q has no go.mod: %v", image.str("context"), err)
	}
	if image.str("dockerfile") != filepath.Join(image.str("context"), "app", "Dockerfile") {
		t.Errorf("dockerfile %q, want app/Dockerfile under the context", image.str("dockerfile"))
	}
}

func TestTaskDefinitionRunsTheAppHardened(t *testing.T) {
	run := mustRun(t, baseConfig())
	task := run.one("aws:ecs/taskDefinition:TaskDefinition")
	var defs []containerDefinition
	if err := json.Unmarshal([]byte(task.str("containerDefinitions")), &defs); err != nil || len(defs) != 1 {
		t.Fatalf("container definitions: %v (%d containers)", err, len(defs))
	}
	c := defs[0]
	if c.User == "" || c.User == "0" || c.User == "root" || strings.HasPrefix(c.User, "0:") {
		t.Errorf("container user %q, want a non-root uid", c.User)
	}
	if !c.ReadonlyRootFilesystem || !slices.Equal(c.LinuxParameters.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("want a read-only root filesystem and all capabilities dropped, got %+v", c)
	}
	if !reflect.DeepEqual(c.PortMappings, []portMapping{{ContainerPort: 8080, Protocol: "tcp"}}) {
		t.Errorf("port mappings %+v, want 8080/tcp", c.PortMappings)
	}
	db := run.one("aws:rds/instance:Instance")
	env := map[string]string{}
	for _, kv := range c.Environment {
		env[kv.Name] = kv.Value
	}
	wantEnv := map[string]string{
		"KMS_KEY_ID":       run.named("aws:kms/key:Key", "keys-app").outStr("arn"),
		"DB_SECRET_ARN":    db.outStr("masterUserSecrets", 0, "secretArn"),
		"DB_HOST":          db.outStr("address"),
		"DB_PORT":          "5432",
		"DB_NAME":          db.str("dbName"),
		"AWS_REGION":       mockRegion,
		"TRUSTED_PROXIES":  run.one("aws:ec2/vpc:Vpc").str("cidrBlock"),
		"SHUTDOWN_TIMEOUT": "20s",
		"METRICS_SERVICE":  "kmswatch-dev",
	}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("environment\n  %v\nwant\n  %v", env, wantEnv)
	}
	logs := run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs")
	if c.LogConfiguration.LogDriver != "awslogs" || c.LogConfiguration.Options["awslogs-group"] != logs.str("name") ||
		c.LogConfiguration.Options["awslogs-region"] != mockRegion {
		t.Errorf("logs go to %+v, want awslogs to %s", c.LogConfiguration, logs.str("name"))
	}
	// A dropped line would read as a decrypt the app did not serve (rules app-decrypt-unserved,
	// app-decrypt-unmatched): writes block instead.
	if c.LogConfiguration.Options["mode"] != "blocking" {
		t.Errorf("awslogs mode %q, want blocking", c.LogConfiguration.Options["mode"])
	}
	if err := emf.ValidateService(env["METRICS_SERVICE"]); err != nil {
		t.Errorf("METRICS_SERVICE %q: the app would refuse it: %v", env["METRICS_SERVICE"], err)
	}
	if task.str("taskRoleArn") != run.named("aws:iam/role:Role", "identity-task-role").outStr("arn") ||
		task.str("executionRoleArn") != run.named("aws:iam/role:Role", "app-exec-role").outStr("arn") {
		t.Error("task definition does not use the task and execution roles")
	}
	if task.str("networkMode") != "awsvpc" || !slices.Equal(task.strings("requiresCompatibilities"), []string{"FARGATE"}) {
		t.Error("want a Fargate task in awsvpc mode")
	}
}

// taskContainer decodes the task definition's only container.
func taskContainer(t *testing.T, run *stackRun) containerDefinition {
	t.Helper()
	var defs []containerDefinition
	if err := json.Unmarshal([]byte(run.one("aws:ecs/taskDefinition:TaskDefinition").str("containerDefinitions")), &defs); err != nil || len(defs) != 1 {
		t.Fatalf("container definitions: %v (%d containers)", err, len(defs))
	}
	return defs[0]
}

func envOf(c containerDefinition) map[string]string {
	env := map[string]string{}
	for _, kv := range c.Environment {
		env[kv.Name] = kv.Value
	}
	return env
}

// ECS sends SIGTERM, waits stopTimeout, then SIGKILLs: the app's drain (SHUTDOWN_TIMEOUT) must
// finish first. Fargate accepts stopTimeout up to 120 seconds.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_timeout
func TestAppShutsDownBeforeECSKillsIt(t *testing.T) {
	c := taskContainer(t, mustRun(t, baseConfig()))
	if c.StopTimeout <= 0 || c.StopTimeout > 120 {
		t.Fatalf("stopTimeout %ds, want it set explicitly, within Fargate's 1-120s", c.StopTimeout)
	}
	drain, err := time.ParseDuration(envOf(c)["SHUTDOWN_TIMEOUT"])
	if err != nil || drain <= 0 {
		t.Fatalf("SHUTDOWN_TIMEOUT %q: want a positive Go duration (%v)", envOf(c)["SHUTDOWN_TIMEOUT"], err)
	}
	if stop := time.Duration(c.StopTimeout) * time.Second; drain >= stop {
		t.Errorf("the app drains for %v but ECS kills it after %v", drain, stop)
	}
}

// The app logs X-Forwarded-For as the client only from TRUSTED_PROXIES, a comma-separated list of
// CIDRs: the VPC's, where the load balancer's nodes live.
func TestAppTrustsForwardedForFromTheVPCOnly(t *testing.T) {
	run := mustRun(t, baseConfig())
	vpc := run.one("aws:ec2/vpc:Vpc").str("cidrBlock")
	value := envOf(taskContainer(t, run))["TRUSTED_PROXIES"]
	for _, cidr := range strings.Split(value, ",") {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			t.Errorf("TRUSTED_PROXIES %q: %q is not a CIDR: %v", value, cidr, err)
		}
	}
	if value != vpc {
		t.Errorf("TRUSTED_PROXIES %q, want the VPC's CIDR %q only", value, vpc)
	}
}

func TestServiceRunsPrivateBehindTheLoadBalancer(t *testing.T) {
	run := mustRun(t, baseConfig())
	svc := run.one("aws:ecs/service:Service")
	if svc.in("networkConfiguration", "assignPublicIp") != false {
		t.Error("tasks get a public IP")
	}
	if got := svc.strings("networkConfiguration", "subnets"); !slices.Equal(got, []string{"subnet-private-1", "subnet-private-2"}) {
		t.Errorf("tasks in subnets %v, want the private ones", got)
	}
	serviceSG := run.named("aws:ec2/securityGroup:SecurityGroup", "network-service-sg")
	albSG := run.named("aws:ec2/securityGroup:SecurityGroup", "network-alb-sg")
	if got := svc.strings("networkConfiguration", "securityGroups"); !slices.Equal(got, []string{idOf(serviceSG)}) {
		t.Errorf("service security groups %v", got)
	}
	// The app admits only the load balancer, on 8080.
	var ingress []string
	for _, rule := range run.securityRules()[idOf(serviceSG)] {
		if strings.HasPrefix(rule, "in ") {
			ingress = append(ingress, rule)
		}
	}
	if want := []string{"in tcp 8080-8080 from " + idOf(albSG)}; !slices.Equal(ingress, want) {
		t.Errorf("service ingress %q, want %q", ingress, want)
	}
	alb := run.one("aws:lb/loadBalancer:LoadBalancer")
	if alb.boolean("internal") || !slices.Equal(alb.strings("subnets"), []string{"subnet-public-1", "subnet-public-2"}) {
		t.Errorf("load balancer internal=%v in %v, want internet-facing in the public subnets", alb.in("internal"), alb.strings("subnets"))
	}
	tg := run.one("aws:lb/targetGroup:TargetGroup")
	if tg.str("healthCheck", "path") != "/" || tg.str("healthCheck", "port") != "8080" || tg.num("port") != 8080 || tg.str("targetType") != "ip" {
		t.Errorf("target group %v, want ip targets on 8080 health-checked at / on 8080", tg.Inputs)
	}
	lb := svc.in("loadBalancers", 0)
	if get(lb, "targetGroupArn") != tg.outStr("arn") || get(lb, "containerName") != "app" || get(lb, "containerPort") != float64(8080) {
		t.Errorf("service load balancer %v, want the target group on app:8080", lb)
	}
	listener := run.one("aws:lb/listener:Listener")
	if !svc.dependsOn(listener) {
		t.Error("the service must wait for the listener: ECS rejects a target group without a load balancer")
	}
	if !slices.Contains(svc.Ignore, "desiredCount") {
		t.Error("desiredCount must be ignored after creation, autoscaling owns it")
	}
}

func TestAutoscalingTracksCPUBetweenMinAndMax(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"minCount": "2", "desiredCount": "3", "maxCount": "5"}))
	target := run.one("aws:appautoscaling/target:Target")
	cluster := run.one("aws:ecs/cluster:Cluster").str("name")
	service := run.one("aws:ecs/service:Service").str("name")
	// https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html (ResourceId)
	if got, want := target.str("resourceId"), "service/"+cluster+"/"+service; got != want {
		t.Errorf("resource id %q, want %q", got, want)
	}
	if target.num("minCapacity") != 2 || target.num("maxCapacity") != 5 || target.str("scalableDimension") != "ecs:service:DesiredCount" {
		t.Errorf("scalable target %v", target.Inputs)
	}
	if run.one("aws:ecs/service:Service").num("desiredCount") != 3 {
		t.Error("desiredCount not applied")
	}
	policy := run.one("aws:appautoscaling/policy:Policy")
	if policy.str("policyType") != "TargetTrackingScaling" || policy.str("resourceId") != target.str("resourceId") ||
		policy.str("targetTrackingScalingPolicyConfiguration", "predefinedMetricSpecification", "predefinedMetricType") != "ECSServiceAverageCPUUtilization" {
		t.Errorf("scaling policy %v", policy.Inputs)
	}
}

func TestCertificateServesHTTPSAndRedirectsHTTP(t *testing.T) {
	cert := "arn:aws:acm:" + mockRegion + ":" + mockAccount + ":certificate/0a1b2c3d-1111-2222-3333-444455556666"
	run := mustRun(t, withSettings(map[string]string{
		"certificateArn": cert, "domainName": "kms.acme-corp.io", "hostedZoneId": "Z1D633PJN98FT9", "allowedCidrs": `["203.0.113.0/24"]`,
	}))
	listeners := map[float64]*recorded{}
	for _, l := range run.all("aws:lb/listener:Listener") {
		listeners[l.num("port")] = l
	}
	https, http := listeners[443], listeners[80]
	if https == nil || http == nil || len(listeners) != 2 {
		t.Fatalf("listeners on %v, want 80 and 443", listeners)
	}
	if https.str("protocol") != "HTTPS" || https.str("certificateArn") != cert || https.str("sslPolicy") != tlsPolicy ||
		https.str("defaultActions", 0, "type") != "forward" {
		t.Errorf("443 listener %v", https.Inputs)
	}
	if http.str("defaultActions", 0, "type") != "redirect" || http.str("defaultActions", 0, "redirect", "protocol") != "HTTPS" ||
		http.str("defaultActions", 0, "redirect", "port") != "443" || http.str("defaultActions", 0, "redirect", "statusCode") != "HTTP_301" {
		t.Errorf("80 listener %v, want a permanent redirect to HTTPS", http.Inputs)
	}
	// Clients reach the name the certificate is for, which points at the load balancer.
	if got := run.outputs["url"]; got != "https://kms.acme-corp.io" {
		t.Errorf("url %v, want https://kms.acme-corp.io", got)
	}
	record := run.one("aws:route53/record:Record")
	alb := run.one("aws:lb/loadBalancer:LoadBalancer")
	if record.str("zoneId") != "Z1D633PJN98FT9" || record.str("name") != "kms.acme-corp.io" || record.str("type") != "A" ||
		record.str("aliases", 0, "name") != alb.outStr("dnsName") || record.str("aliases", 0, "zoneId") != alb.outStr("zoneId") {
		t.Errorf("DNS record %v, want an alias A record for kms.acme-corp.io to the load balancer", record.Inputs)
	}
	sg := run.named("aws:ec2/securityGroup:SecurityGroup", "network-alb-sg")
	var ingress []string
	for _, rule := range run.securityRules()[idOf(sg)] {
		if strings.HasPrefix(rule, "in ") {
			ingress = append(ingress, rule)
		}
	}
	if want := []string{"in tcp 443-443 from 203.0.113.0/24", "in tcp 80-80 from 203.0.113.0/24"}; !slices.Equal(ingress, want) {
		t.Errorf("load balancer open %q, want %q (80 and 443 to allowedCidrs)", ingress, want)
	}
}

func TestExecutionRoleMayOnlyPullTheImageAndWriteTheAppLogs(t *testing.T) {
	run := mustRun(t, baseConfig())
	policy := run.named("aws:iam/rolePolicy:RolePolicy", "app-exec-policy").policy(t, "policy")
	repoARN := run.one("aws:ecr/repository:Repository").outStr("arn")
	logsARN := run.named("aws:cloudwatch/logGroup:LogGroup", "app-logs").outStr("arn")
	want := map[string]string{
		"EcrLogin":        "*", // GetAuthorizationToken has no resource-level permission
		"PullTheAppImage": repoARN,
		"WriteTheAppLogs": logsARN + ":log-stream:*",
	}
	for sid, resource := range want {
		if s := statementBySid(t, policy, sid); !reflect.DeepEqual(s.Resource, stringList{resource}) {
			t.Errorf("%s on %v, want %s", sid, s.Resource, resource)
		}
	}
	if s := statementBySid(t, policy, "EcrLogin"); !reflect.DeepEqual(s.Action, stringList{"ecr:GetAuthorizationToken"}) {
		t.Errorf("the * resource must carry GetAuthorizationToken only, got %v", s.Action)
	}
}

// Fargate accepts only some CPU/memory pairs; RDS gp3 volumes start at 20 GiB.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage
func TestTaskSizeAndDatabaseStorageAreAccepted(t *testing.T) {
	run := mustRun(t, baseConfig())
	fargate := map[string][]string{
		"256":  {"512", "1024", "2048"},
		"512":  {"1024", "2048", "3072", "4096"},
		"1024": {"2048", "3072", "4096", "5120", "6144", "7168", "8192"},
	}
	task := run.one("aws:ecs/taskDefinition:TaskDefinition")
	if !slices.Contains(fargate[task.str("cpu")], task.str("memory")) {
		t.Errorf("Fargate does not offer cpu %s with memory %s", task.str("cpu"), task.str("memory"))
	}
	db := run.one("aws:rds/instance:Instance")
	if db.str("storageType") != "gp3" || db.num("allocatedStorage") < 20 {
		t.Errorf("storage %s of %v GiB, gp3 needs at least 20", db.str("storageType"), db.num("allocatedStorage"))
	}
}

func TestDomainNameOutsideItsHostedZoneIsRefused(t *testing.T) {
	run := runStack(t, "dev", withSettings(map[string]string{"domainName": "kms.other-corp.io", "hostedZoneId": "Z1D633PJN98FT9"}))
	if run.err == nil || !strings.Contains(run.err.Error(), "domainName kms.other-corp.io is not in hosted zone Z1D633PJN98FT9 ("+mockZoneName+")") {
		t.Fatalf("want the zone mismatch refused, got %v", run.err)
	}
}

func TestDomainNameWithoutCertificateServesHTTPOnThatName(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"domainName": "kms.acme-corp.io"}))
	if got := run.outputs["url"]; got != "http://kms.acme-corp.io" {
		t.Errorf("url %v, want http://kms.acme-corp.io", got)
	}
	if n := len(run.all("aws:route53/record:Record")); n != 0 {
		t.Errorf("%d DNS records without hostedZoneId, want none (the name is the user's to point)", n)
	}
	// ...at the load balancer's own name, which an output gives.
	if got, want := run.outputs["loadBalancerDnsName"], run.one("aws:lb/loadBalancer:LoadBalancer").outStr("dnsName"); got != want || want == "" {
		t.Errorf("loadBalancerDnsName %v, want the load balancer's DNS name %q", got, want)
	}
}
