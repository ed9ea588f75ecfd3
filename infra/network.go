package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	vpcCIDR       = "10.0.0.0/16"
	containerPort = 8080
	postgresPort  = 5432
)

// Subnet layout: two /20s per tier, public in the low half of the VPC, private in the high half.
var (
	publicSubnetCIDRs  = []string{"10.0.0.0/20", "10.0.16.0/20"}
	privateSubnetCIDRs = []string{"10.0.128.0/20", "10.0.144.0/20"}
)

// NetworkArgs places the VPC in the region's zones and says who may reach the load balancer.
type NetworkArgs struct {
	Zones         []zone // two, chosen by zone ID (zones.go)
	NATGateways   string // natSingle or natOnePerAZ
	AllowedCIDRs  []string
	ListenerPorts []int // 80, plus 443 with a certificate
	// Protect keeps the network on destroy: a retained database and load balancer sit in its
	// subnets and groups, and AWS refuses to delete those while they are in use.
	Protect bool
}

// Network is a VPC with public subnets (load balancer, NAT) and private subnets (tasks, database),
// and the security groups that chain load balancer -> service. Plain EC2 resources rather than a
// higher-level VPC component, so that subnets take zone IDs and each resource's fate on destroy
// is declared here and checked under mocks.
type Network struct {
	pulumi.ResourceState

	VpcID                       pulumi.StringOutput
	PublicSubnetIDs             pulumi.StringArrayOutput
	PrivateSubnetIDs            pulumi.StringArrayOutput
	LoadBalancerSecurityGroupID pulumi.IDOutput
	ServiceSecurityGroupID      pulumi.IDOutput
	// Rules are the groups' rules, separate resources: what needs traffic waits for them.
	Rules []pulumi.Resource
	// Routes are the private subnets' ways out: tasks need them to pull the image and reach AWS APIs.
	Routes []pulumi.Resource
}

func newNetwork(ctx *pulumi.Context, name string, args NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{}
	if err := ctx.RegisterComponentResource("kmswatch:network:Network", name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	keep := pulumi.RetainOnDelete(args.Protect)

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(vpcCIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	// Take over the VPC's default group and leave it without rules, so nothing that lands in it
	// by default can talk (Security Hub EC2.2, CIS 5.4).
	// https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html#ec2-2
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
	}, parent, keep); err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{VpcId: vpc.ID()}, parent, keep)
	if err != nil {
		return nil, err
	}
	publicRoutes, err := ec2.NewRouteTable(ctx, name+"-public-routes", &ec2.RouteTableArgs{VpcId: vpc.ID()}, parent, keep)
	if err != nil {
		return nil, err
	}
	if _, err := ec2.NewRoute(ctx, name+"-public-default", &ec2.RouteArgs{
		RouteTableId: publicRoutes.ID(), DestinationCidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID(),
	}, parent, keep); err != nil {
		return nil, err
	}

	var public, private pulumi.StringArray
	var nats []*ec2.NatGateway
	for i, z := range args.Zones {
		suffix := fmt.Sprintf("-%d", i+1)
		pub, err := ec2.NewSubnet(ctx, name+"-public"+suffix, &ec2.SubnetArgs{
			VpcId: vpc.ID(), CidrBlock: pulumi.String(publicSubnetCIDRs[i]), AvailabilityZoneId: pulumi.String(z.ID),
			MapPublicIpOnLaunch: pulumi.Bool(false), // nothing but the load balancer (and the NAT's EIP) is public
		}, parent, keep)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, name+"-public"+suffix+"-routes", &ec2.RouteTableAssociationArgs{
			SubnetId: pub.ID(), RouteTableId: publicRoutes.ID(),
		}, parent, keep); err != nil {
			return nil, err
		}
		public = append(public, pub.ID().ToStringOutput())

		// NAT gateways cost by the hour and hold no data: never kept. One, or one per zone.
		if i == 0 || args.NATGateways == natOnePerAZ {
			eip, err := ec2.NewEip(ctx, name+"-nat"+suffix+"-ip", &ec2.EipArgs{Domain: pulumi.String("vpc")}, parent,
				pulumi.DependsOn([]pulumi.Resource{igw})) // an EIP for a NAT needs the gateway attached
			if err != nil {
				return nil, err
			}
			nat, err := ec2.NewNatGateway(ctx, name+"-nat"+suffix, &ec2.NatGatewayArgs{
				AllocationId: eip.ID(), SubnetId: pub.ID(),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, err
			}
			nats = append(nats, nat)
		}
	}
	for i, z := range args.Zones {
		suffix := fmt.Sprintf("-%d", i+1)
		priv, err := ec2.NewSubnet(ctx, name+"-private"+suffix, &ec2.SubnetArgs{
			VpcId: vpc.ID(), CidrBlock: pulumi.String(privateSubnetCIDRs[i]), AvailabilityZoneId: pulumi.String(z.ID),
		}, parent, keep)
		if err != nil {
			return nil, err
		}
		routes, err := ec2.NewRouteTable(ctx, name+"-private"+suffix+"-routes", &ec2.RouteTableArgs{VpcId: vpc.ID()}, parent, keep)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, name+"-private"+suffix+"-routes-assoc", &ec2.RouteTableAssociationArgs{
			SubnetId: priv.ID(), RouteTableId: routes.ID(),
		}, parent, keep); err != nil {
			return nil, err
		}
		nat := nats[min(i, len(nats)-1)]
		out, err := ec2.NewRoute(ctx, name+"-private"+suffix+"-default", &ec2.RouteArgs{
			RouteTableId: routes.ID(), DestinationCidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: nat.ID(),
		}, parent)
		if err != nil {
			return nil, err
		}
		n.Routes = append(n.Routes, out)
		private = append(private, priv.ID().ToStringOutput())
	}

	// Every rule is its own resource and no group has inline rules: the provider overwrites
	// separate rules with a group's inline list on the next update (data.go adds the service's
	// PostgreSQL egress), and warns against mixing the two. A group with no rules at all is
	// created without AWS's default allow-all egress, which the provider removes.
	// https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/
	// https://www.pulumi.com/registry/packages/aws/api-docs/vpc/securitygroupingressrule/
	albSG, err := ec2.NewSecurityGroup(ctx, name+"-alb-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch load balancer: listeners open to allowedCidrs"),
		VpcId:       vpc.ID(),
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	serviceSG, err := ec2.NewSecurityGroup(ctx, name+"-service-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch tasks: 8080 from the load balancer only"),
		VpcId:       vpc.ID(),
	}, parent, keep)
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
	if n.Rules, err = newSecurityRules(ctx, name, rules, parent, keep); err != nil {
		return nil, err
	}

	n.VpcID = vpc.ID().ToStringOutput()
	n.PublicSubnetIDs = public.ToStringArrayOutput()
	n.PrivateSubnetIDs = private.ToStringArrayOutput()
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
