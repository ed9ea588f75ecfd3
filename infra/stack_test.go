package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestStackDeclaresEveryConcernAsAComponent(t *testing.T) {
	run := mustRun(t, baseConfig())
	children := map[string][]string{ // component type -> resource types it must own
		"kmswatch:network:Network":       {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", "aws:ec2/securityGroup:SecurityGroup"},
		"kmswatch:identity:TaskIdentity": {"aws:iam/role:Role"},
		"kmswatch:keys:Keys":             {"aws:kms/key:Key", "aws:kms/alias:Alias"},
		"kmswatch:data:Database":         {"aws:rds/instance:Instance", "aws:rds/subnetGroup:SubnetGroup"},
		"kmswatch:service:Service":       {"aws:ecr/repository:Repository", "awsx:ecr:Image", "aws:ecs/service:Service", "aws:lb/loadBalancer:LoadBalancer"},
		"kmswatch:audit:Audit":           {"aws:cloudtrail/trail:Trail", "aws:s3/bucketV2:BucketV2"},
		"kmswatch:alerts:Alerts":         {"aws:sns/topic:Topic", "aws:cloudwatch/metricAlarm:MetricAlarm"},
		"kmswatch:response:Response":     {"aws:lambda/function:Function", "aws:dynamodb/table:Table"},
		"kmswatch:hunting:Hunting":       {"aws:glue/catalogTable:CatalogTable", "aws:athena/workgroup:Workgroup"},
		"kmswatch:dashboard:Dashboard":   {"aws:cloudwatch/dashboard:Dashboard"},
	}
	for component, types := range children {
		c := run.one(component)
		for _, typ := range types {
			owned := false
			for _, res := range run.all(typ) {
				owned = owned || res.Parent == c.URN
			}
			if !owned {
				t.Errorf("%s owns no %s (children need pulumi.Parent)", component, typ)
			}
		}
	}
	for _, res := range run.resources {
		if !strings.HasPrefix(res.Type, "kmswatch:") && res.Parent == "" {
			t.Errorf("%s %s has no parent component", res.Type, res.Name)
		}
	}
}

func TestStackExportsWhatUsersNeed(t *testing.T) {
	run := mustRun(t, baseConfig())
	key := run.named("aws:kms/key:Key", "keys-app")
	role := run.named("aws:iam/role:Role", "identity-task-role")
	db := run.one("aws:rds/instance:Instance")
	want := map[string]any{
		"kmsKeyId":            key.outStr("keyId"),
		"kmsKeyArn":           key.outStr("arn"),
		"taskRoleArn":         role.outStr("arn"),
		"trailName":           run.one("aws:cloudtrail/trail:Trail").str("name"),
		"trailLogGroup":       "/kmswatch-dev/cloudtrail",
		"appLogGroup":         "/kmswatch-dev/app",
		"trailBucket":         run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket").outStr("bucket"), // for the README's aws s3 sync
		"alertTopicArn":       run.one("aws:sns/topic:Topic").outStr("arn"),
		"dbEndpoint":          db.outStr("address") + ":5432",
		"imageUri":            run.one("awsx:ecr:Image").outStr("imageUri"),
		"url":                 "http://" + run.one("aws:lb/loadBalancer:LoadBalancer").outStr("dnsName"),
		"loadBalancerDnsName": run.one("aws:lb/loadBalancer:LoadBalancer").outStr("dnsName"),
	}
	for name, value := range want {
		if got := run.outputs[name]; got != value || value == "" {
			t.Errorf("output %s = %v, want %v", name, got, value)
		}
	}
	// One alarm per alarmed rule (log and Metrics rules), named by the rule set with the stack prefix, in the rule set's order.
	cfg, err := parseConfig(lookupFrom(baseConfig()))
	if err != nil {
		t.Fatal(err)
	}
	var alarms []string
	for _, r := range cfg.Rules() {
		if r.Source == rules.TrailLogs || r.Source == rules.AppLogs || r.Source == rules.Metrics {
			alarms = append(alarms, r.AlarmName("kmswatch-dev"))
		}
	}
	if len(alarms) == 0 {
		t.Fatal("the rule set has no log-based rule")
	}
	if got, ok := run.outputs["alarmNames"].([]string); !ok || !slices.Equal(got, alarms) {
		t.Errorf("output alarmNames\n  %v\nwant\n  %v", run.outputs["alarmNames"], alarms)
	}
}

func TestNetworkTakesTwoZonesOfTheRegionByZoneID(t *testing.T) {
	run := mustRun(t, baseConfig())
	// The mock region's zones come out of order (mocks_test.go); subnets name zones by ID, the
	// first two IDs, one public and one private subnet in each.
	byTier := map[bool][]string{}
	for _, subnet := range run.all("aws:ec2/subnet:Subnet") {
		if subnet.str("availabilityZone") != "" {
			t.Errorf("subnet %s names its zone by name %q; want the zone ID only", subnet.Name, subnet.str("availabilityZone"))
		}
		public := strings.Contains(subnet.Name, "public")
		byTier[public] = append(byTier[public], subnet.str("availabilityZoneId"))
		if subnet.boolean("mapPublicIpOnLaunch") {
			t.Errorf("subnet %s gives public IPs to what starts in it", subnet.Name)
		}
	}
	for public, ids := range byTier {
		slices.Sort(ids)
		if want := []string{"euw1-az1", "euw1-az2"}; !slices.Equal(ids, want) {
			t.Errorf("public=%v subnets in zones %v, want %v", public, ids, want)
		}
	}
	// Local Zones and Wavelength need opt-in and lack NAT gateways and RDS: ask only for regular zones.
	args := run.calls["aws:index/getAvailabilityZones:getAvailabilityZones"].Mappable()
	if get(args, "state") != "available" || get(args, "filters", 0, "name") != "opt-in-status" ||
		get(args, "filters", 0, "values", 0) != "opt-in-not-required" {
		t.Errorf("zones asked with %v, want available zones that need no opt-in", args)
	}
	// Public subnets route to the internet gateway, private ones to a NAT gateway.
	run.one("aws:ec2/internetGateway:InternetGateway") // exactly one
	routes := map[string]string{}                      // route table id -> where 0.0.0.0/0 goes
	for _, r := range run.all("aws:ec2/route:Route") {
		if r.str("destinationCidrBlock") != "0.0.0.0/0" {
			continue
		}
		routes[r.str("routeTableId")] = r.str("gatewayId") + r.str("natGatewayId")
	}
	for _, assoc := range run.all("aws:ec2/routeTableAssociation:RouteTableAssociation") {
		via := routes[assoc.str("routeTableId")]
		switch {
		case strings.Contains(assoc.str("subnetId"), "public") && via != "igw-0abc":
			t.Errorf("public subnet %s routes out via %q, want the internet gateway", assoc.str("subnetId"), via)
		case strings.Contains(assoc.str("subnetId"), "private") && !strings.HasPrefix(via, "nat-"):
			t.Errorf("private subnet %s routes out via %q, want a NAT gateway", assoc.str("subnetId"), via)
		}
	}
	if n := len(run.all("aws:ec2/routeTableAssociation:RouteTableAssociation")); n != 4 {
		t.Errorf("%d route table associations, want one per subnet (4)", n)
	}
	// The default group is taken over with no rules (Security Hub EC2.2).
	def := run.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
	if def.in("ingress") != nil || def.in("egress") != nil {
		t.Errorf("default security group keeps rules: %v", def.Inputs)
	}
}

func TestChooseZonesKeepsToZonesFargateSupports(t *testing.T) {
	tests := []struct {
		region     string
		names, ids []string
		want       []string // zone IDs, or nil for an error
	}{
		{"eu-west-1", []string{"eu-west-1c", "eu-west-1a", "eu-west-1b"}, []string{"euw1-az3", "euw1-az1", "euw1-az2"}, []string{"euw1-az1", "euw1-az2"}},
		// us-west-1: Fargate runs in usw1-az1 and usw1-az3 only; an account may call either "us-west-1a".
		{"us-west-1", []string{"us-west-1a", "us-west-1b", "us-west-1c"}, []string{"usw1-az2", "usw1-az3", "usw1-az1"}, []string{"usw1-az1", "usw1-az3"}},
		{"ap-northeast-1", []string{"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}, []string{"apne1-az4", "apne1-az1", "apne1-az2"}, []string{"apne1-az1", "apne1-az2"}},
		{"us-west-1", []string{"us-west-1a", "us-west-1b"}, []string{"usw1-az2", "usw1-az3"}, nil}, // one supported zone
		{"eu-south-9", []string{"eu-south-9a"}, []string{"eus9-az1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.region+"/"+strings.Join(tc.ids, ","), func(t *testing.T) {
			got, err := chooseZones(tc.region, tc.names, tc.ids)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "needs 2") {
					t.Fatalf("chooseZones = %v, %v; want an error saying two zones are needed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, z := range got {
				ids = append(ids, z.ID)
				if j := slices.Index(tc.ids, z.ID); tc.names[j] != z.Name {
					t.Errorf("zone %d: name %q does not belong to %s", i, z.Name, z.ID)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("zones %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestNATGatewaysFollowTheSetting(t *testing.T) {
	for setting, count := range map[string]int{"single": 1, "onePerAz": 2} {
		t.Run(setting, func(t *testing.T) {
			run := mustRun(t, withSettings(map[string]string{"natGateways": setting}))
			nats := run.all("aws:ec2/natGateway:NatGateway")
			if len(nats) != count || len(run.all("aws:ec2/eip:Eip")) != count {
				t.Fatalf("%d NAT gateways and %d EIPs, want %d of each", len(nats), len(run.all("aws:ec2/eip:Eip")), count)
			}
			for _, nat := range nats {
				if !strings.Contains(nat.str("subnetId"), "public") {
					t.Errorf("NAT gateway %s in %q, want a public subnet", nat.Name, nat.str("subnetId"))
				}
			}
		})
	}
}

func TestTaskRoleMayOnlyUseTheAppKeyAndReadTheDatabaseSecret(t *testing.T) {
	run := mustRun(t, baseConfig())
	role := run.named("aws:iam/role:Role", "identity-task-role")
	policy := run.named("aws:iam/rolePolicy:RolePolicy", "app-task-policy")
	if policy.str("role") != role.outStr("name") {
		t.Fatalf("task policy attached to %q, want the task role %q", policy.str("role"), role.outStr("name"))
	}
	keyARN := run.named("aws:kms/key:Key", "keys-app").outStr("arn")
	secretARN := run.one("aws:rds/instance:Instance").outStr("masterUserSecrets", 0, "secretArn")
	granted := map[string][]string{} // action -> resources
	for _, s := range policy.policy(t, "policy").Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants wildcard action %q", s.Sid, a)
			}
			granted[a] = append(granted[a], s.Resource...)
		}
		for _, r := range s.Resource {
			if strings.Contains(r, "*") {
				t.Errorf("statement %s grants on wildcard resource %q", s.Sid, r)
			}
		}
	}
	want := map[string][]string{
		"kms:Encrypt": {keyARN}, "kms:Decrypt": {keyARN},
		"secretsmanager:GetSecretValue": {secretARN},
	}
	if !reflect.DeepEqual(granted, want) {
		t.Errorf("task role may\n  %v\nwant exactly\n  %v", granted, want)
	}
	// Only ECS tasks of this account and region may assume it.
	trust := role.policy(t, "assumeRolePolicy").Statement[0]
	if !reflect.DeepEqual(trust.Principal.Service, stringList{"ecs-tasks.amazonaws.com"}) ||
		!reflect.DeepEqual(trust.Condition["StringEquals"]["aws:SourceAccount"], stringList{mockAccount}) ||
		!reflect.DeepEqual(trust.Condition["ArnLike"]["aws:SourceArn"], stringList{"arn:aws:ecs:" + mockRegion + ":" + mockAccount + ":*"}) {
		t.Errorf("task role trust %+v, want ecs-tasks scoped to the account and region", trust)
	}
}

// idOf is the id the mock gave a security group.
func idOf(res *recorded) string {
	return "sg-" + shortHash(res.Name, 17)
}

func TestDatabaseIsPrivateEncryptedAndReachableFromTheServiceOnly(t *testing.T) {
	run := mustRun(t, baseConfig())
	db := run.one("aws:rds/instance:Instance")
	checks := map[string]bool{
		"storage encrypted":               db.boolean("storageEncrypted"),
		"not publicly accessible":         db.in("publiclyAccessible") == false,
		"password managed by RDS":         db.boolean("manageMasterUserPassword") && db.in("password") == nil,
		"backups kept":                    db.num("backupRetentionPeriod") >= 1,
		"postgres":                        db.str("engine") == "postgres",
		"Graviton default class":          db.str("instanceClass") == "db.t4g.micro",
		"own subnet group":                db.str("dbSubnetGroupName") == run.one("aws:rds/subnetGroup:SubnetGroup").outStr("name"),
		"subnet group in private subnets": slices.Equal(run.one("aws:rds/subnetGroup:SubnetGroup").strings("subnetIds"), []string{"subnet-private-1", "subnet-private-2"}),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("database: %s: no (%v)", what, db.Inputs)
		}
	}
	dbSG := run.named("aws:ec2/securityGroup:SecurityGroup", "db-sg")
	serviceSG := run.named("aws:ec2/securityGroup:SecurityGroup", "network-service-sg")
	if got := db.strings("vpcSecurityGroupIds"); !slices.Equal(got, []string{idOf(dbSG)}) {
		t.Errorf("database groups %v, want its own", got)
	}
	// 5432 from the service's group only, and no egress.
	if got, want := run.securityRules()[idOf(dbSG)], []string{"in tcp 5432-5432 from " + idOf(serviceSG)}; !slices.Equal(got, want) {
		t.Errorf("database rules %q, want %q", got, want)
	}
}

func TestCertificateFromAnotherRegionFailsBeforeAnythingIsCreated(t *testing.T) {
	run := runStack(t, "dev", withSettings(map[string]string{
		"certificateArn": "arn:aws:acm:us-west-2:" + mockAccount + ":certificate/0a1b2c3d-1111-2222-3333-444455556666",
		"domainName":     "kms.acme-corp.io",
	}))
	if run.err == nil || !strings.Contains(run.err.Error(), "certificateArn is in us-west-2 but the stack deploys to "+mockRegion) {
		t.Fatalf("want a region mismatch error, got %v", run.err)
	}
	if len(run.resources) != 0 {
		t.Errorf("%d resources registered before the error", len(run.resources))
	}
}

func TestHTTPSWithoutADomainNameFailsBeforeAnythingIsCreated(t *testing.T) {
	run := runStack(t, "dev", withSettings(map[string]string{
		"certificateArn": "arn:aws:acm:" + mockRegion + ":" + mockAccount + ":certificate/0a1b2c3d-1111-2222-3333-444455556666",
	}))
	if run.err == nil || !strings.Contains(run.err.Error(), "certificateArn is set but domainName is not") {
		t.Fatalf("want HTTPS without a name refused, got %v", run.err)
	}
	if len(run.resources) != 0 {
		t.Errorf("%d resources registered before the error", len(run.resources))
	}
}

func TestPlaceholderAddressFailsBeforeAnythingIsCreated(t *testing.T) {
	for _, email := range []string{"secops@example.com", "you@yourcompany.com"} {
		run := runStack(t, "dev", map[string]string{"alertEmail": email})
		if run.err == nil || !strings.Contains(run.err.Error(), "an example address") {
			t.Fatalf("alertEmail %s: want the program itself to refuse it, got %v", email, run.err)
		}
		if len(run.resources) != 0 {
			t.Errorf("%d resources registered before the error", len(run.resources))
		}
	}
}

func TestInvalidConfigFailsBeforeAnythingIsCreated(t *testing.T) {
	run := runStack(t, "dev", map[string]string{"alertEmail": "not-an-address", "logRetentionDays": "10"})
	if run.err == nil || !strings.Contains(run.err.Error(), "alertEmail") || !strings.Contains(run.err.Error(), "logRetentionDays 10") {
		t.Fatalf("want errors naming alertEmail and logRetentionDays, got %v", run.err)
	}
	if len(run.resources) != 0 || len(run.calls) != 0 {
		t.Errorf("%d resources and %d calls before the error", len(run.resources), len(run.calls))
	}
}

// main runs deployStack, which also registers the exports; it must succeed on its own.
func TestDeployStackRunsUnderMocks(t *testing.T) {
	raw, _ := json.Marshal(map[string]string{"kmswatch:alertEmail": "secops@acme-corp.io", "aws:region": mockRegion})
	t.Setenv("PULUMI_CONFIG", string(raw))
	m := &awsMocks{stack: "dev", calls: map[string]resource.PropertyMap{}}
	if err := pulumi.RunErr(deployStack, pulumi.WithMocks("kmswatch", "dev", m)); err != nil {
		t.Fatal(err)
	}
	if len(m.resources) < 50 {
		t.Errorf("only %d resources registered", len(m.resources))
	}
}
