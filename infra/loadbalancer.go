package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// tlsPolicy accepts TLS 1.3 and 1.2 only.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
const tlsPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

type loadBalancerArgs struct {
	VpcID           pulumi.StringInput
	PublicSubnetIDs pulumi.StringArrayInput
	SecurityGroupID pulumi.IDInput
	CertificateARN  string // "" for HTTP only
	DomainName      string // the name clients use; "" for the ALB's own DNS name
	HostedZoneID    string // Route 53 zone that gets an alias record for DomainName; "" for none
	Protect         bool
}

type loadBalancer struct {
	URL            pulumi.StringOutput
	DNSName        pulumi.StringOutput // the ALB's own name: what domainName must point at without hostedZoneId
	TargetGroupARN pulumi.StringOutput
	Listeners      []pulumi.Resource
}

// listenerPorts are the ports the load balancer listens on, which the network opens.
func listenerPorts(certificateARN string) []int {
	if certificateARN == "" {
		return []int{80}
	}
	return []int{80, 443}
}

// newLoadBalancer builds an internet-facing ALB in the public subnets, forwarding to the tasks'
// port 8080. With a certificate it serves HTTPS on 443 and redirects 80 there.
func newLoadBalancer(ctx *pulumi.Context, name string, args loadBalancerArgs, parent pulumi.ResourceOption) (*loadBalancer, error) {
	alb, err := lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		LoadBalancerType:         pulumi.String("application"),
		Internal:                 pulumi.Bool(false),
		Subnets:                  args.PublicSubnetIDs,
		SecurityGroups:           pulumi.StringArray{args.SecurityGroupID.ToIDOutput().ToStringOutput()},
		DropInvalidHeaderFields:  pulumi.Bool(true),
		EnableDeletionProtection: pulumi.Bool(args.Protect),
	}, parent,
		// Kept with protect: clients know it by its DNS name. Its listeners and target group go,
		// so it answers nothing until a stack adopts it again (pulumi import).
		pulumi.RetainOnDelete(args.Protect))
	if err != nil {
		return nil, err
	}
	tg, err := lb.NewTargetGroup(ctx, name+"-tg", &lb.TargetGroupArgs{
		TargetType:          pulumi.String("ip"), // Fargate tasks register by IP
		Port:                pulumi.Int(containerPort),
		Protocol:            pulumi.String("HTTP"),
		VpcId:               args.VpcID,
		DeregistrationDelay: pulumi.Int(30),
		HealthCheck: &lb.TargetGroupHealthCheckArgs{
			Path:               pulumi.String("/"),
			Port:               pulumi.String("8080"),
			Protocol:           pulumi.String("HTTP"),
			Matcher:            pulumi.String("200"),
			Interval:           pulumi.Int(15),
			Timeout:            pulumi.Int(5),
			HealthyThreshold:   pulumi.Int(2),
			UnhealthyThreshold: pulumi.Int(3),
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	forward := lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
		Type: pulumi.String("forward"), TargetGroupArn: tg.Arn,
	}}
	out := &loadBalancer{TargetGroupARN: tg.Arn, DNSName: alb.DnsName}
	host := alb.DnsName
	if args.DomainName != "" {
		host = pulumi.String(args.DomainName).ToStringOutput()
		if err := newAliasRecord(ctx, name, args, alb, parent); err != nil {
			return nil, err
		}
	}
	if args.CertificateARN == "" {
		http, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn, Port: pulumi.Int(80), Protocol: pulumi.String("HTTP"), DefaultActions: forward,
		}, parent)
		if err != nil {
			return nil, err
		}
		out.Listeners = []pulumi.Resource{http}
		out.URL = pulumi.Sprintf("http://%s", host)
		return out, nil
	}

	https, err := lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn, Port: pulumi.Int(443), Protocol: pulumi.String("HTTPS"),
		CertificateArn: pulumi.String(args.CertificateARN), SslPolicy: pulumi.String(tlsPolicy),
		DefaultActions: forward,
	}, parent)
	if err != nil {
		return nil, err
	}
	redirect, err := lb.NewListener(ctx, name+"-http-redirect", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn, Port: pulumi.Int(80), Protocol: pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type: pulumi.String("redirect"),
			Redirect: &lb.ListenerDefaultActionRedirectArgs{
				Protocol: pulumi.String("HTTPS"), Port: pulumi.String("443"), StatusCode: pulumi.String("HTTP_301"),
			},
		}},
	}, parent)
	if err != nil {
		return nil, err
	}
	out.Listeners = []pulumi.Resource{https, redirect}
	out.URL = pulumi.Sprintf("https://%s", host)
	return out, nil
}

// newAliasRecord points DomainName at the load balancer with a Route 53 alias A record, after
// checking that the zone is the name's (a record outside its zone is refused by Route 53 only
// half way through the deployment).
// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-elb-load-balancer.html
func newAliasRecord(ctx *pulumi.Context, name string, args loadBalancerArgs, alb *lb.LoadBalancer, parent pulumi.ResourceOption) error {
	if args.HostedZoneID == "" {
		return nil
	}
	zone, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{ZoneId: &args.HostedZoneID})
	if err != nil {
		return fmt.Errorf("hostedZoneId %s: %w", args.HostedZoneID, err)
	}
	zoneName := strings.TrimSuffix(zone.Name, ".")
	if args.DomainName != zoneName && !strings.HasSuffix(args.DomainName, "."+zoneName) {
		return fmt.Errorf("invalid stack configuration:\n  domainName %s is not in hosted zone %s (%s)", args.DomainName, args.HostedZoneID, zoneName)
	}
	if zone.PrivateZone != nil && *zone.PrivateZone {
		return fmt.Errorf("invalid stack configuration:\n  hosted zone %s (%s) is private: clients on the internet would not resolve %s", args.HostedZoneID, zoneName, args.DomainName)
	}
	_, err = route53.NewRecord(ctx, name+"-dns", &route53.RecordArgs{
		ZoneId: pulumi.String(args.HostedZoneID),
		Name:   pulumi.String(args.DomainName),
		Type:   pulumi.String("A"),
		Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
			Name: alb.DnsName, ZoneId: alb.ZoneId, EvaluateTargetHealth: pulumi.Bool(true),
		}},
	}, parent)
	return err
}
