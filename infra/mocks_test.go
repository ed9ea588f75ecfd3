package main

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The mock AWS account the stack deploys into. The region is deliberately not the lab's
// ap-southeast-2: zones must come from the region, not from the code.
const (
	mockAccount   = "123456789012"
	mockRegion    = "eu-west-1"
	mockPartition = "aws"
)

// mockMissingLogGroup is the one log group the mock account does not have.
const mockMissingLogGroup = "/no/such/group"

// mockZoneName is the public hosted zone the mock Route 53 holds, whatever its id.
const mockZoneName = "acme-corp.io"

// mockZones are returned out of order, with a third zone, to see the program choose.
var mockZones = []string{"eu-west-1c", "eu-west-1a", "eu-west-1b"}

// recorded is one resource registration as the engine would receive it.
type recorded struct {
	Type    string // type token, e.g. aws:kms/key:Key
	Name    string // logical name
	URN     string
	Parent  string
	Inputs  map[string]any
	Outputs map[string]any
	Deps    []string // URNs of dependencies (explicit DependsOn and inputs')
	Retain  bool     // RetainOnDelete
	Ignore  []string // IgnoreChanges
}

// awsMocks plays the engine and AWS: it records registrations and returns outputs shaped like
// AWS's (ARNs, ids, auto-names), so that ARNs the program predicts can be compared with real ones.
type awsMocks struct {
	stack     string
	mu        sync.Mutex
	resources []*recorded
	calls     map[string]resource.PropertyMap
}

func (m *awsMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	inputs := args.Inputs.Mappable()
	outputs := map[string]any{}
	for k, v := range inputs {
		outputs[k] = v
	}
	id := args.Name + "-id"
	if args.Custom || strings.HasPrefix(args.TypeToken, "awsx:") {
		id = mockOutputs(args.TypeToken, args.Name, inputs, outputs)
	}
	rec := &recorded{Type: args.TypeToken, Name: args.Name, Inputs: inputs, Outputs: outputs}
	if rpc := args.RegisterRPC; rpc != nil {
		rec.URN = m.urn(rpc.GetParent(), rpc.GetType(), rpc.GetName())
		rec.Parent = rpc.GetParent()
		rec.Deps = rpc.GetDependencies()
		rec.Retain = rpc.GetRetainOnDelete()
		rec.Ignore = rpc.GetIgnoreChanges()
	}
	m.mu.Lock()
	m.resources = append(m.resources, rec)
	m.mu.Unlock()
	return id, resource.NewPropertyMapFromMap(outputs), nil
}

// urn builds the URN the mock monitor gives a resource, so that dependencies can be matched.
func (m *awsMocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), "kmswatch", parentType, tokens.Type(typ), name))
}

func (m *awsMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls[args.Token] = args.Args
	m.mu.Unlock()
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": mockAccount, "arn": "arn:aws:iam::" + mockAccount + ":user/deployer",
			"userId": "AIDAEXAMPLE", "id": mockAccount,
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": mockRegion, "id": mockRegion, "description": "Europe (Ireland)", "endpoint": "ec2." + mockRegion + ".amazonaws.com",
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"partition": mockPartition, "dnsSuffix": "amazonaws.com", "id": mockPartition, "reverseDnsPrefix": "com.amazonaws",
		}), nil
	case "aws:cloudwatch/getLogGroup:getLogGroup":
		name, _ := get(args.Args.Mappable(), "name").(string)
		if name == mockMissingLogGroup {
			return nil, fmt.Errorf("reading CloudWatch Logs Log Group (%s): empty result", name)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": name, "id": name, "arn": regional("logs", "log-group:"+name), "retentionInDays": 365,
		}), nil
	case "aws:route53/getZone:getZone":
		return resource.NewPropertyMapFromMap(map[string]any{
			"zoneId": get(args.Args.Mappable(), "zoneId"), "name": mockZoneName + ".", "privateZone": false, "id": get(args.Args.Mappable(), "zoneId"),
		}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{
			"names": mockZones, "zoneIds": []string{"euw1-az3", "euw1-az1", "euw1-az2"}, "id": mockRegion,
			"groupNames": []string{mockRegion},
		}), nil
	}
	return nil, fmt.Errorf("mock: unexpected call %s", args.Token)
}

// autoNamed maps the types Pulumi auto-names to the property that holds the name.
var autoNamed = map[string]string{
	"aws:iam/role:Role":                   "name",
	"aws:iam/rolePolicy:RolePolicy":       "name",
	"aws:iam/policy:Policy":               "name",
	"aws:ec2/securityGroup:SecurityGroup": "name",
	"aws:rds/subnetGroup:SubnetGroup":     "name",
	"aws:rds/instance:Instance":           "identifier",
	"aws:lb/loadBalancer:LoadBalancer":    "name",
	"aws:lb/targetGroup:TargetGroup":      "name",
	"aws:s3/bucketV2:BucketV2":            "bucket",
	"aws:ecs/service:Service":             "name",
	"aws:ecs/cluster:Cluster":             "name",
}

func shortHash(s string, n int) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// mockUUID is a stable UUID-shaped id for a logical name.
func mockUUID(name string) string {
	h := shortHash(name, 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func regional(service, res string) string {
	return "arn:aws:" + service + ":" + mockRegion + ":" + mockAccount + ":" + res
}

// mockOutputs fills outputs as AWS would for the type and returns the physical id.
func mockOutputs(typ, name string, in, out map[string]any) string {
	// Pulumi's auto-naming: logical name, a hyphen and seven random hex digits.
	if key, ok := autoNamed[typ]; ok {
		if s, _ := in[key].(string); s == "" {
			out[key] = name + "-" + shortHash(name, 7)
		}
	}
	str := func(key string) string { s, _ := out[key].(string); return s }
	id := name + "-" + shortHash(name, 8)
	switch typ {
	case "aws:ec2/vpc:Vpc":
		id = "vpc-0abc"
		out["arn"] = regional("ec2", "vpc/"+id)
	case "aws:ec2/subnet:Subnet":
		id = "subnet-" + strings.TrimPrefix(name, "network-") // subnet-public-1, subnet-private-2
		out["arn"] = regional("ec2", "subnet/"+id)
	case "aws:ec2/internetGateway:InternetGateway":
		id = "igw-0abc"
	case "aws:ec2/natGateway:NatGateway":
		id = "nat-" + shortHash(name, 17)
	case "aws:ec2/eip:Eip":
		id = "eipalloc-" + shortHash(name, 17)
	case "aws:ec2/routeTable:RouteTable":
		id = "rtb-" + shortHash(name, 17)
	case "awsx:ecr:Image":
		out["imageUri"] = str("repositoryUrl") + "@sha256:" + shortHash(name, 40) + shortHash(name+"2", 24)
	case "aws:iam/role:Role":
		out["arn"] = "arn:aws:iam::" + mockAccount + ":role/" + str("name")
		id = str("name")
	case "aws:kms/key:Key":
		id = mockUUID(name)
		out["keyId"] = id
		out["arn"] = regional("kms", "key/"+id)
	case "aws:kms/alias:Alias":
		out["arn"] = regional("kms", str("name"))
	case "aws:ec2/securityGroup:SecurityGroup":
		id = "sg-" + shortHash(name, 17)
		out["arn"] = regional("ec2", "security-group/"+id)
	case "aws:rds/subnetGroup:SubnetGroup":
		id = str("name")
	case "aws:rds/instance:Instance":
		ident := str("identifier")
		out["address"] = ident + ".c9akciq32.rclb." + mockRegion + ".rds.amazonaws.com"
		out["port"] = 5432
		out["endpoint"] = str("address") + ":5432"
		out["arn"] = regional("rds", "db:"+ident)
		out["masterUserSecrets"] = []any{map[string]any{
			"secretArn":    regional("secretsmanager", "secret:rds!db-"+mockUUID(name)+"-AbCdEf"),
			"kmsKeyId":     regional("kms", "key/aws-secretsmanager"),
			"secretStatus": "active",
		}}
	case "aws:ecr/repository:Repository":
		out["arn"] = regional("ecr", "repository/"+str("name"))
		out["repositoryUrl"] = mockAccount + ".dkr.ecr." + mockRegion + ".amazonaws.com/" + str("name")
		out["registryId"] = mockAccount
		id = str("name")
	case "aws:cloudwatch/logGroup:LogGroup":
		out["arn"] = regional("logs", "log-group:"+str("name"))
		id = str("name")
	case "aws:ecs/cluster:Cluster":
		out["arn"] = regional("ecs", "cluster/"+str("name"))
	case "aws:ecs/taskDefinition:TaskDefinition":
		out["arn"] = regional("ecs", "task-definition/"+str("family")+":1")
		out["revision"] = 1
	case "aws:ecs/service:Service":
		id = regional("ecs", "service/cluster/"+str("name"))
	case "aws:lb/loadBalancer:LoadBalancer":
		out["zoneId"] = "Z32O12XQLNTSW2" // the ELB hosted zone of eu-west-1
		suffix := "app/" + str("name") + "/" + shortHash(name, 16)
		out["arn"] = regional("elasticloadbalancing", "loadbalancer/"+suffix)
		out["arnSuffix"] = suffix
		out["dnsName"] = str("name") + "-1234567890." + mockRegion + ".elb.amazonaws.com"
		id = str("arn")
	case "aws:lb/targetGroup:TargetGroup":
		suffix := "targetgroup/" + str("name") + "/" + shortHash(name, 16)
		out["arn"] = regional("elasticloadbalancing", suffix)
		out["arnSuffix"] = suffix
		id = str("arn")
	case "aws:lb/listener:Listener":
		out["arn"] = regional("elasticloadbalancing", "listener/app/"+shortHash(name, 16))
		id = str("arn")
	case "aws:s3/bucketV2:BucketV2":
		out["arn"] = "arn:aws:s3:::" + str("bucket")
		id = str("bucket")
	case "aws:cloudtrail/trail:Trail":
		out["arn"] = regional("cloudtrail", "trail/"+str("name"))
		id = str("arn")
	case "aws:sns/topic:Topic":
		out["arn"] = regional("sns", str("name"))
		id = str("arn")
	case "aws:sns/topicSubscription:TopicSubscription":
		out["arn"] = str("topic") + ":" + mockUUID(name)
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		out["arn"] = regional("cloudwatch", "alarm:"+str("name"))
		id = str("name")
	case "aws:iam/policy:Policy":
		out["arn"] = "arn:aws:iam::" + mockAccount + ":policy/" + str("name")
		id = str("arn")
	case "aws:athena/workgroup:Workgroup":
		out["arn"] = regional("athena", "workgroup/"+str("name"))
		id = str("name")
	case "aws:cloudwatch/dashboard:Dashboard": // dashboards are global: no Region in the ARN
		out["dashboardArn"] = "arn:aws:cloudwatch::" + mockAccount + ":dashboard/" + str("dashboardName")
		id = str("dashboardName")
	case "aws:cloudwatch/eventRule:EventRule":
		out["arn"] = regional("events", "rule/"+str("name"))
		id = str("name")
	case "aws:lambda/function:Function":
		out["arn"] = regional("lambda", "function:"+str("name"))
		id = str("name")
	case "aws:dynamodb/table:Table":
		out["arn"] = regional("dynamodb", "table/"+str("name"))
		id = str("name")
	}
	return id
}
