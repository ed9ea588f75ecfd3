package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	awsxec2 "github.com/pulumi/pulumi-awsx/sdk/v2/go/awsx/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	vpcCIDR       = "10.0.0.0/16"
	containerPort = 8080
	postgresPort  = 5432
)

// NetworkArgs places the VPC in the region's zones and says who may reach the load balancer.
type NetworkArgs struct {
	AvailabilityZones []string // from the region, two of them
	NATGateways       string   // natSingle or natOnePerAZ
	AllowedCIDRs      []string
	ListenerPorts     []int // 80, plus 443 with a certificate
}

// Network is a VPC with public subnets (load balancer, NAT) and private subnets (tasks, database),
// and the security groups that chain load balancer -> service.
type Network struct {
	pulumi.ResourceState

	VpcID                       pulumi.StringOutput
	PublicSubnetIDs             pulumi.StringArrayOutput
	PrivateSubnetIDs            pulumi.StringArrayOutput
	LoadBalancerSecurityGroupID pulumi.IDOutput
	ServiceSecurityGroupID      pulumi.IDOutput
	// Rules are the groups' rules, separate resources: what needs traffic waits for them.
	Rules []pulumi.Resource
}

func newNetwork(ctx *pulumi.Context, name string, args NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{}
	if err := ctx.RegisterComponentResource("kmswatch:network:Network", name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)

	strategy := awsxec2.NatGatewayStrategySingle
	if args.NATGateways == natOnePerAZ {
		strategy = awsxec2.NatGatewayStrategyOnePerAz
	}
	cidr := vpcCIDR
	vpc, err := awsxec2.NewVpc(ctx, name+"-vpc", &awsxec2.VpcArgs{
		CidrBlock:             &cidr,
		AvailabilityZoneNames: args.AvailabilityZones,
		NatGateways:           &awsxec2.NatGatewayConfigurationArgs{Strategy: strategy},
		SubnetSpecs: []awsxec2.SubnetSpecArgs{
			{Type: awsxec2.SubnetTypePublic},
			{Type: awsxec2.SubnetTypePrivate},
		},
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, err
	}

	// Every rule is its own resource and no group has inline rules: the provider overwrites
	// separate rules with a group's inline list on the next update (data.go adds the service's
	// PostgreSQL egress), and warns against mixing the two. A group with no rules at all is
	// created without AWS's default allow-all egress, which the provider removes.
	// https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/
	// https://www.pulumi.com/registry/packages/aws/api-docs/vpc/securitygroupingressrule/
	albSG, err := ec2.NewSecurityGroup(ctx, name+"-alb-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch load balancer: listeners open to allowedCidrs"),
		VpcId:       vpc.VpcId,
	}, parent)
	if err != nil {
		return nil, err
	}
	serviceSG, err := ec2.NewSecurityGroup(ctx, name+"-service-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch tasks: 8080 from the load balancer only"),
		VpcId:       vpc.VpcId,
	}, parent)
	if err != nil {
		return nil, err
	}
	albID, serviceID := albSG.ID().ToStringOutput(), serviceSG.ID().ToStringOutput()

	rules := []securityRule{
		{Name: "alb-to-service", Group: albID, Description: "load balancer to the app", Port: containerPort, PeerGroup: serviceID},
		{Name: "service-from-alb", Ingress: true, Group: serviceID, Description: "load balancer to the app", Port: containerPort, PeerGroup: albID},
		// HTTPS out through the NAT gateway: ECR, KMS, Secrets Manager, CloudWatch Logs.
		// PostgreSQL egress is added by the data component, towards the database's group only.
		{Name: "service-to-https", Group: serviceID, Description: "AWS APIs over HTTPS", Port: 443, CIDR: "0.0.0.0/0"},
	}
	for _, port := range args.ListenerPorts {
		for _, cidr := range args.AllowedCIDRs {
			rules = append(rules, securityRule{
				Name: fmt.Sprintf("alb-in-%d-from-%s", port, ruleNamePart(cidr)), Ingress: true, Group: albID,
				Description: "clients to the load balancer", Port: port, CIDR: cidr,
			})
		}
	}
	if n.Rules, err = newSecurityRules(ctx, name, rules, parent); err != nil {
		return nil, err
	}

	n.VpcID = vpc.VpcId
	n.PublicSubnetIDs = vpc.PublicSubnetIds
	n.PrivateSubnetIDs = vpc.PrivateSubnetIds
	n.LoadBalancerSecurityGroupID = albSG.ID()
	n.ServiceSecurityGroupID = serviceSG.ID()
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	})
}

// securityRule opens one TCP port of a group (Group), in from or out to a CIDR or another group
// (one of the two).
type securityRule struct {
	Name        string // suffix of the resource name
	Ingress     bool
	Group       pulumi.StringInput
	Description string
	Port        int
	CIDR        string
	PeerGroup   pulumi.StringInput
}

// newSecurityRules creates each rule as its own resource, named prefix-<rule name>.
func newSecurityRules(ctx *pulumi.Context, prefix string, rules []securityRule, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var created []pulumi.Resource
	for _, r := range rules {
		var cidr, peer pulumi.StringPtrInput
		if r.CIDR != "" {
			cidr = pulumi.String(r.CIDR)
		}
		if r.PeerGroup != nil {
			peer = r.PeerGroup.ToStringOutput().ToStringPtrOutput()
		}
		var res pulumi.Resource
		var err error
		if r.Ingress {
			res, err = vpc.NewSecurityGroupIngressRule(ctx, prefix+"-"+r.Name, &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId: r.Group, Description: pulumi.String(r.Description), IpProtocol: pulumi.String("tcp"),
				FromPort: pulumi.Int(r.Port), ToPort: pulumi.Int(r.Port), CidrIpv4: cidr, ReferencedSecurityGroupId: peer,
			}, opts...)
		} else {
			res, err = vpc.NewSecurityGroupEgressRule(ctx, prefix+"-"+r.Name, &vpc.SecurityGroupEgressRuleArgs{
				SecurityGroupId: r.Group, Description: pulumi.String(r.Description), IpProtocol: pulumi.String("tcp"),
				FromPort: pulumi.Int(r.Port), ToPort: pulumi.Int(r.Port), CidrIpv4: cidr, ReferencedSecurityGroupId: peer,
			}, opts...)
		}
		if err != nil {
			return nil, err
		}
		created = append(created, res)
	}
	return created, nil
}

// ruleNamePart turns a CIDR into a name fragment (203.0.113.0/24 -> 203-0-113-0-24), so that a
// rule keeps its name when allowedCidrs is reordered.
func ruleNamePart(cidr string) string {
	return strings.NewReplacer(".", "-", "/", "-").Replace(cidr)
}
