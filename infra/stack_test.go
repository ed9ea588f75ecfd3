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
		"kmswatch:network:Network":       {"awsx:ec2:Vpc", "aws:ec2/securityGroup:SecurityGroup"},
		"kmswatch:identity:TaskIdentity": {"aws:iam/role:Role"},
		"kmswatch:keys:Keys":             {"aws:kms/key:Key", "aws:kms/alias:Alias"},
		"kmswatch:data:Database":         {"aws:rds/instance:Instance", "aws:rds/subnetGroup:SubnetGroup"},
		"kmswatch:service:Service":       {"aws:ecr/repository:Repository", "awsx:ecr:Image", "aws:ecs/service:Service", "aws:lb/loadBalancer:LoadBalancer"},
		"kmswatch:audit:Audit":           {"aws:cloudtrail/trail:Trail", "aws:s3/bucketV2:BucketV2"},
		"kmswatch:alerts:Alerts":         {"aws:sns/topic:Topic", "aws:cloudwatch/metricAlarm:MetricAlarm"},
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
		"kmsKeyId":      key.outStr("keyId"),
		"kmsKeyArn":     key.outStr("arn"),
		"taskRoleArn":   role.outStr("arn"),
		"trailName":     run.one("aws:cloudtrail/trail:Trail").str("name"),
		"trailLogGroup": "/kmswatch-dev/cloudtrail",
		"alertTopicArn": run.one("aws:sns/topic:Topic").outStr("arn"),
		"dbEndpoint":    db.outStr("address") + ":5432",
		"imageUri":      run.one("awsx:ecr:Image").outStr("imageUri"),
		"url":           "http://" + run.one("aws:lb/loadBalancer:LoadBalancer").outStr("dnsName"),
	}
	for name, value := range want {
		if got := run.outputs[name]; got != value || value == "" {
			t.Errorf("output %s = %v, want %v", name, got, value)
		}
	}
	// One alarm per log-based rule, named by the rule set with the stack prefix, in the rule set's order.
	cfg, err := parseConfig(lookupFrom(baseConfig()))
	if err != nil {
		t.Fatal(err)
	}
	var alarms []string
	for _, r := range cfg.Rules() {
		if r.Source == rules.TrailLogs || r.Source == rules.AppLogs {
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

func TestNetworkTakesTwoZonesOfTheRegion(t *testing.T) {
	run := mustRun(t, baseConfig())
	vpc := run.one("awsx:ec2:Vpc")
	if got, want := vpc.strings("availabilityZoneNames"), []string{"eu-west-1a", "eu-west-1b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("zones %v, want %v: the first two of the region's zones", got, want)
	}
	// Local Zones and Wavelength need opt-in and lack NAT gateways and RDS: ask only for regular zones.
	args := run.calls["aws:index/getAvailabilityZones:getAvailabilityZones"].Mappable()
	if get(args, "state") != "available" || get(args, "filters", 0, "name") != "opt-in-status" ||
		get(args, "filters", 0, "values", 0) != "opt-in-not-required" {
		t.Errorf("zones asked with %v, want available zones that need no opt-in", args)
	}
	var specs []string
	for i := range 2 {
		specs = append(specs, vpc.str("subnetSpecs", i, "type"))
	}
	if !reflect.DeepEqual(specs, []string{"Public", "Private"}) {
		t.Errorf("subnet specs %v, want Public and Private", specs)
	}
}

func TestNATGatewaysFollowTheSetting(t *testing.T) {
	for setting, strategy := range map[string]string{"single": "Single", "onePerAz": "OnePerAz"} {
		t.Run(setting, func(t *testing.T) {
			run := mustRun(t, withSettings(map[string]string{"natGateways": setting}))
			if got := run.one("awsx:ec2:Vpc").str("natGateways", "strategy"); got != strategy {
				t.Errorf("NAT strategy %q, want %q", got, strategy)
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
		"kms:Encrypt": {keyARN}, "kms:Decrypt": {keyARN}, "kms:GenerateDataKey": {keyARN}, "kms:DescribeKey": {keyARN},
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
		"subnet group in private subnets": slices.Equal(run.one("aws:rds/subnetGroup:SubnetGroup").strings("subnetIds"), []string{"subnet-private-a", "subnet-private-b"}),
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

func TestProtectKeepsDataAndItsAbsenceTearsDownCleanly(t *testing.T) {
	for _, protect := range []bool{false, true} {
		name := map[bool]string{false: "without protect", true: "with protect"}[protect]
		t.Run(name, func(t *testing.T) {
			run := mustRun(t, withSettings(map[string]string{"protect": map[bool]string{false: "false", true: "true"}[protect]}))
			db := run.one("aws:rds/instance:Instance")
			bucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket")
			repo := run.one("aws:ecr/repository:Repository")
			want := map[string]bool{
				"RDS deletion protection":       db.boolean("deletionProtection"),
				"RDS final snapshot":            db.in("skipFinalSnapshot") == false && db.str("finalSnapshotIdentifier") != "",
				"RDS automated backups kept":    db.in("deleteAutomatedBackups") == false,
				"bucket kept (not forced)":      bucket.in("forceDestroy") == false,
				"bucket retained on destroy":    bucket.Retain,
				"repository kept (not forced)":  repo.in("forceDelete") == false,
				"repository retained":           repo.Retain,
				"ALB deletion protection":       run.one("aws:lb/loadBalancer:LoadBalancer").boolean("enableDeletionProtection"),
				"key pending window at its max": run.named("aws:kms/key:Key", "keys-app").num("deletionWindowInDays") == 30,
			}
			for _, lg := range run.all("aws:cloudwatch/logGroup:LogGroup") {
				want["log group "+lg.str("name")+" retained"] = lg.Retain
			}
			// Kept data stays readable only if its keys are kept too: no pending deletion.
			for _, key := range run.all("aws:kms/key:Key") {
				want["key "+key.Name+" retained"] = key.Retain
			}
			for _, alias := range run.all("aws:kms/alias:Alias") {
				want["alias "+alias.str("name")+" retained"] = alias.Retain
			}
			if len(run.all("aws:kms/key:Key")) != 2 || len(run.all("aws:kms/alias:Alias")) != 2 {
				t.Fatalf("want the app and audit keys with their aliases")
			}
			for what, got := range want {
				if got != protect {
					t.Errorf("%s: %v, want %v", what, got, protect)
				}
			}
			if !protect && (!db.boolean("skipFinalSnapshot") || !bucket.boolean("forceDestroy") || !repo.boolean("forceDelete")) {
				t.Error("without protect, destroy must not stop on a snapshot, objects in the bucket or images in the repository")
			}
		})
	}
}

func TestCertificateFromAnotherRegionFailsBeforeAnythingIsCreated(t *testing.T) {
	run := runStack(t, "dev", withSettings(map[string]string{
		"certificateArn": "arn:aws:acm:us-west-2:" + mockAccount + ":certificate/0a1b2c3d-1111-2222-3333-444455556666",
	}))
	if run.err == nil || !strings.Contains(run.err.Error(), "certificateArn is in us-west-2 but the stack deploys to "+mockRegion) {
		t.Fatalf("want a region mismatch error, got %v", run.err)
	}
	if len(run.resources) != 0 {
		t.Errorf("%d resources registered before the error", len(run.resources))
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
	raw, _ := json.Marshal(map[string]string{"kmswatch:alertEmail": "secops@example.com", "aws:region": mockRegion})
	t.Setenv("PULUMI_CONFIG", string(raw))
	m := &awsMocks{stack: "dev", calls: map[string]resource.PropertyMap{}}
	if err := pulumi.RunErr(deployStack, pulumi.WithMocks("kmswatch", "dev", m)); err != nil {
		t.Fatal(err)
	}
	if len(m.resources) < 50 {
		t.Errorf("only %d resources registered", len(m.resources))
	}
}
