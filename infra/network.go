package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
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

	var ingress ec2.SecurityGroupIngressArray
	for _, port := range args.ListenerPorts {
		ingress = append(ingress, ec2.SecurityGroupIngressArgs{
			Description: pulumi.String("clients to the load balancer"),
			Protocol:    pulumi.String("tcp"),
			FromPort:    pulumi.Int(port),
			ToPort:      pulumi.Int(port),
			CidrBlocks:  pulumi.ToStringArray(args.AllowedCIDRs),
		})
	}
	albSG, err := ec2.NewSecurityGroup(ctx, name+"-alb-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch load balancer: listeners open to allowedCidrs"),
		VpcId:       vpc.VpcId,
		Ingress:     ingress,
	}, parent)
	if err != nil {
		return nil, err
	}

	serviceSG, err := ec2.NewSecurityGroup(ctx, name+"-service-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch tasks: 8080 from the load balancer only"),
		VpcId:       vpc.VpcId,
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Description:    pulumi.String("load balancer to the app"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(containerPort),
			ToPort:         pulumi.Int(containerPort),
			SecurityGroups: pulumi.StringArray{albSG.ID()},
		}},
		// HTTPS out through the NAT gateway: ECR, KMS, Secrets Manager, CloudWatch Logs.
		// PostgreSQL egress is added by the data component, towards the database's group only.
		Egress: ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Description: pulumi.String("AWS APIs over HTTPS"),
			Protocol:    pulumi.String("tcp"),
			FromPort:    pulumi.Int(443),
			ToPort:      pulumi.Int(443),
			CidrBlocks:  pulumi.StringArray{pulumi.String("0.0.0.0/0")},
		}},
	}, parent)
	if err != nil {
		return nil, err
	}

	// A separate rule breaks the cycle between the two groups.
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-alb-to-service", &ec2.SecurityGroupRuleArgs{
		Description:           pulumi.String("load balancer to the app"),
		Type:                  pulumi.String("egress"),
		SecurityGroupId:       albSG.ID(),
		SourceSecurityGroupId: serviceSG.ID(),
		Protocol:              pulumi.String("tcp"),
		FromPort:              pulumi.Int(containerPort),
		ToPort:                pulumi.Int(containerPort),
	}, parent); err != nil {
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
