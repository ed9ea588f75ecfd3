package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
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
	Protect         bool
}

type loadBalancer struct {
	URL            pulumi.StringOutput
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
	}, parent)
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
	out := &loadBalancer{TargetGroupARN: tg.Arn}
	if args.CertificateARN == "" {
		http, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn, Port: pulumi.Int(80), Protocol: pulumi.String("HTTP"), DefaultActions: forward,
		}, parent)
		if err != nil {
			return nil, err
		}
		out.Listeners = []pulumi.Resource{http}
		out.URL = pulumi.Sprintf("http://%s", alb.DnsName)
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
	out.URL = pulumi.Sprintf("https://%s", alb.DnsName)
	return out, nil
}
