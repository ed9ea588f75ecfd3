// Command infra is kmswatch's Pulumi program: the encrypt/decrypt service on Fargate and the
// monitoring of its KMS use (CloudTrail -> CloudWatch Logs -> metric filters -> alarms -> SNS,
// and EventBridge for events that must reach a person at once).
package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(deployStack)
}

// deployStack declares the stack and exports what users need to reach and watch it.
func deployStack(ctx *pulumi.Context) error {
	outputs, err := declareStack(ctx)
	if err != nil {
		return err
	}
	for name, value := range outputs.exports() {
		ctx.Export(name, value)
	}
	return nil
}

// stackOutputs are the stack's exports, returned so that tests can read them under mocks.
type stackOutputs struct {
	URL, LoadBalancerDNSName, ImageURI, KMSKeyID, KMSKeyARN pulumi.StringOutput
	TaskRoleARN, DBEndpoint                                 pulumi.StringOutput
	TrailName, TrailLogGroup, TrailBucket, AlertTopicARN    pulumi.StringOutput
	AppLogGroup                                             pulumi.StringOutput
	AlarmNames                                              pulumi.StringArrayOutput
	DashboardURL                                            pulumi.StringOutput
	OwnTrail                                                bool     // false: a brought trail, no trailName
	Hunting                                                 *Hunting // nil when the hunting setting is off
	ResponderTable                                          pulumi.StringOutput
	Responder                                               bool // false: response notify, no responderTable
}

func (o *stackOutputs) exports() map[string]pulumi.Output {
	out := map[string]pulumi.Output{
		"url":                 o.URL,
		"loadBalancerDnsName": o.LoadBalancerDNSName, // a CNAME or alias target for domainName
		"imageUri":            o.ImageURI,
		"kmsKeyId":            o.KMSKeyID,
		"kmsKeyArn":           o.KMSKeyARN,
		"taskRoleArn":         o.TaskRoleARN,
		"dbEndpoint":          o.DBEndpoint,
		"trailName":           o.TrailName,
		"trailLogGroup":       o.TrailLogGroup,
		"trailBucket":         o.TrailBucket,
		"appLogGroup":         o.AppLogGroup,
		"alertTopicArn":       o.AlertTopicARN,
		"alarmNames":          o.AlarmNames,
		"dashboardUrl":        o.DashboardURL,
	}
	if !o.OwnTrail {
		delete(out, "trailName") // the account's trail, not the stack's
	}
	if h := o.Hunting; h != nil {
		out["huntingWorkgroup"], out["huntingDatabase"], out["huntingPolicyArn"] = h.WorkgroupName, h.DatabaseName, h.PolicyARN
	}
	if o.Responder {
		out["responderTable"] = o.ResponderTable // kmswatch release|status --table
	}
	return out
}

// declareStack declares the whole stack in the order of the architecture diagram. Tests run this
// same function under mocks.
func declareStack(ctx *pulumi.Context) (*stackOutputs, error) {
	cfg, err := loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	env, zones, err := lookupEnvironment(ctx)
	if err != nil {
		return nil, err
	}
	names := newStackNames(ctx.Project(), ctx.Stack())
	// What only the stack's account, Region and partition can judge, all reported at once.
	var envErrs []error
	if region := cfg.certificateRegion(); region != "" && region != env.Region {
		envErrs = append(envErrs, fmt.Errorf("certificateArn is in %s but the stack deploys to %s: "+
			"a load balancer can only use an ACM certificate from its own region", region, env.Region))
	}
	var huntingAccounts, huntingRegions []string
	if cfg.Hunting {
		var errs []error
		huntingAccounts, huntingRegions, errs = cfg.huntingScope(env, names)
		envErrs = append(envErrs, errs...)
	}
	if len(envErrs) > 0 {
		return nil, configError(envErrs)
	}

	network, err := newNetwork(ctx, "network", NetworkArgs{
		Zones:         zones,
		NATGateways:   cfg.NATGateways,
		AllowedCIDRs:  cfg.AllowedCIDRs,
		ListenerPorts: listenerPorts(cfg.CertificateARN),
		Protect:       cfg.Protect,
	})
	if err != nil {
		return nil, err
	}
	identity, err := newTaskIdentity(ctx, "identity", TaskIdentityArgs{Env: env})
	if err != nil {
		return nil, err
	}
	responderRole := ""
	if cfg.Response != responder.ModeNotify {
		responderRole = env.responderRoleARN(names)
	}
	keys, err := newKeys(ctx, "keys", KeysArgs{
		Env: env, Names: names, TaskRoleARN: identity.TaskRoleARN, Protect: cfg.Protect, Hunting: cfg.Hunting,
		OwnTrail: cfg.broughtTrail() == nil, ResponderRoleARN: responderRole,
	})
	if err != nil {
		return nil, err
	}
	db, err := newDatabase(ctx, "db", DatabaseArgs{
		Names:                  names,
		VpcID:                  network.VpcID,
		PrivateSubnetIDs:       network.PrivateSubnetIDs,
		ServiceSecurityGroupID: network.ServiceSecurityGroupID,
		InstanceClass:          cfg.DBInstanceClass,
		Protect:                cfg.Protect,
	})
	if err != nil {
		return nil, err
	}
	app, err := newService(ctx, "app", ServiceArgs{
		Env:                         env,
		Names:                       names,
		VpcID:                       network.VpcID,
		PublicSubnetIDs:             network.PublicSubnetIDs,
		PrivateSubnetIDs:            network.PrivateSubnetIDs,
		LoadBalancerSecurityGroupID: network.LoadBalancerSecurityGroupID,
		ServiceSecurityGroupID:      network.ServiceSecurityGroupID,
		NetworkReady:                slices.Concat(network.Rules, network.Routes, db.Rules),
		TaskRole:                    identity.Role,
		AppKeyARN:                   keys.AppKeyARN,
		AuditKeyARN:                 keys.AuditKeyARN,
		DBAddress:                   db.Address,
		DBPort:                      db.Port,
		DBName:                      db.Name,
		DBSecretARN:                 db.SecretARN,
		DesiredCount:                cfg.DesiredCount,
		MinCount:                    cfg.MinCount,
		MaxCount:                    cfg.MaxCount,
		CertificateARN:              cfg.CertificateARN,
		DomainName:                  cfg.DomainName,
		HostedZoneID:                cfg.HostedZoneID,
		LogRetentionDays:            cfg.LogRetention,
		Protect:                     cfg.Protect,
	})
	if err != nil {
		return nil, err
	}
	audit, err := newAudit(ctx, "audit", AuditArgs{
		Env: env, Names: names, AuditKeyARN: keys.AuditKeyARN,
		LogRetentionDays: cfg.LogRetention, Protect: cfg.Protect,
		Brought: cfg.broughtTrail(),
	})
	if err != nil {
		return nil, err
	}
	response, err := newResponse(ctx, "response", ResponseArgs{
		Env: env, Names: names, Mode: cfg.Response,
		ContainOn:           containRules(cfg.Rules(), cfg.ContainOnRules),
		ContainmentInterval: time.Duration(cfg.ContainmentInterval) * time.Minute,
		TaskRole:            identity.Role, AppKeyARN: keys.AppKeyARN, AuditKeyARN: keys.AuditKeyARN,
		LogRetentionDays: cfg.LogRetention, Protect: cfg.Protect,
	})
	if err != nil {
		return nil, err
	}
	alerts, err := newAlerts(ctx, "alerts", AlertsArgs{
		Env:               env,
		Names:             names,
		Rules:             cfg.Rules(),
		TaskRoleARN:       identity.TaskRoleARN,
		AppKeyARN:         keys.AppKeyARN,
		KeyARNs:           pulumi.StringArray{keys.AppKeyARN, keys.AuditKeyARN},
		TrailLogGroupName: audit.TrailLogGroupName,
		AppLogGroupName:   app.AppLogGroupName,
		AuditKeyARN:       keys.AuditKeyARN,
		AlertEmail:        cfg.AlertEmail,
		Responder:         response,
	})
	if err != nil {
		return nil, err
	}

	dashboard, err := newDashboard(ctx, "dashboard", DashboardArgs{
		Env: env, Names: names, Rules: cfg.Rules(),
		TaskRoleARN: identity.TaskRoleARN, AppKeyARN: keys.AppKeyARN, AuditKeyARN: keys.AuditKeyARN,
		TrailLogGroupName: audit.TrailLogGroupName, AppLogGroupName: app.AppLogGroupName,
		// The task definition sets METRICS_SERVICE to the stack's prefix (service.go): graph this stack's only.
		AppMetricsService: names.Prefix(),
	}, pulumi.DependsOn([]pulumi.Resource{alerts}))
	if err != nil {
		return nil, err
	}

	var hunting *Hunting
	if cfg.Hunting {
		hunting, err = newHunting(ctx, "hunting", HuntingArgs{
			Env: env, Names: names, Rules: cfg.Rules(),
			TaskRoleARN: identity.TaskRoleARN, AppKeyARN: keys.AppKeyARN, KeyARNs: pulumi.StringArray{keys.AppKeyARN, keys.AuditKeyARN},
			TrailBucket: audit.BucketName, HistoryDays: cfg.LogRetention,
			TrailAccounts: huntingAccounts, TrailRegions: huntingRegions,
			TrailOrganizationID: cfg.TrailOrganizationID, TrailKMSKeyARN: cfg.TrailKMSKeyARN,
			TrailLogGroupName: audit.TrailLogGroupName, AppLogGroupName: app.AppLogGroupName, AuditKeyARN: keys.AuditKeyARN,
		})
		if err != nil {
			return nil, err
		}
	}

	outputs := &stackOutputs{
		Hunting:             hunting,
		URL:                 app.URL,
		LoadBalancerDNSName: app.LoadBalancerDNSName,
		ImageURI:            app.ImageURI,
		KMSKeyID:            keys.AppKeyID,
		KMSKeyARN:           keys.AppKeyARN,
		TaskRoleARN:         identity.TaskRoleARN,
		DBEndpoint:          pulumi.Sprintf("%s:%d", db.Address, db.Port),
		TrailName:           audit.TrailName,
		TrailLogGroup:       audit.TrailLogGroupName,
		TrailBucket:         audit.BucketName,
		AppLogGroup:         app.AppLogGroupName,
		AlertTopicARN:       alerts.TopicARN,
		AlarmNames:          alerts.AlarmNames,
		DashboardURL:        dashboard.URL,
		OwnTrail:            cfg.broughtTrail() == nil,
	}
	outputs.ResponderTable, outputs.Responder = response.TableName, response.Enabled
	return outputs, nil
}

// lookupEnvironment asks AWS who and where we are, and picks two availability zones of the
// region (zones that need no opt-in, so never a Local Zone; zones that Fargate supports).
func lookupEnvironment(ctx *pulumi.Context) (awsEnv, []zone, error) {
	identity, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{})
	if err != nil {
		return awsEnv{}, nil, fmt.Errorf("who am I in AWS (are credentials set?): %w", err)
	}
	region, err := aws.GetRegion(ctx, &aws.GetRegionArgs{})
	if err != nil {
		return awsEnv{}, nil, fmt.Errorf("AWS region (set aws:region): %w", err)
	}
	partition, err := aws.GetPartition(ctx, &aws.GetPartitionArgs{})
	if err != nil {
		return awsEnv{}, nil, fmt.Errorf("AWS partition: %w", err)
	}
	available := "available"
	azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State:   &available,
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
	})
	if err != nil {
		return awsEnv{}, nil, fmt.Errorf("availability zones of %s: %w", region.Name, err)
	}
	zones, err := chooseZones(region.Name, azs.Names, azs.ZoneIds)
	if err != nil {
		return awsEnv{}, nil, err
	}
	env := awsEnv{Account: identity.AccountId, Region: region.Name, Partition: partition.Partition}
	return env, zones, nil
}
