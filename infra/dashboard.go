package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kmswatch/kmswatch/app/emf"
	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DashboardArgs: the rules as the stack deploys them, and what the dashboard names.
type DashboardArgs struct {
	Env               awsEnv
	Names             stackNames
	Rules             []rules.Rule // cfg.Rules(): the thresholds the alarms use
	TaskRoleARN       pulumi.StringInput
	AppKeyARN         pulumi.StringInput
	AuditKeyARN       pulumi.StringInput
	TrailLogGroupName pulumi.StringInput
	AppLogGroupName   pulumi.StringInput
	// AppMetricsService is the Service dimension of the app's EMF metrics (METRICS_SERVICE);
	// "" graphs every value the account has.
	AppMetricsService string
}

// Dashboard is the stack's CloudWatch dashboard, whose body rules.Dashboard renders.
type Dashboard struct {
	pulumi.ResourceState

	Name pulumi.StringOutput
	URL  pulumi.StringOutput
}

// DashboardName: "The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_"".
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
var dashboardName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func newDashboard(ctx *pulumi.Context, name string, args DashboardArgs, opts ...pulumi.ResourceOption) (*Dashboard, error) {
	d := &Dashboard{}
	if err := ctx.RegisterComponentResource("kmswatch:dashboard:Dashboard", name, d, opts...); err != nil {
		return nil, err
	}
	env, names := args.Env, args.Names
	if !dashboardName.MatchString(names.Dashboard()) {
		return nil, fmt.Errorf("dashboard name %q: CloudWatch takes 1 to 255 of A-Z a-z 0-9 - _", names.Dashboard())
	}
	url, err := dashboardURL(env, names.Dashboard())
	if err != nil {
		return nil, err
	}
	// Every log rule has an alarm (alerts.go), named and so addressed before it exists.
	alarmARNs := map[string]string{}
	for _, r := range args.Rules {
		if hasAlarm(r) {
			alarmARNs[r.ID] = env.alarmARN(names.Alarm(r))
		}
	}
	app := rules.AppMetrics{Namespace: emf.Namespace, Dimension: emf.DimensionName, Service: args.AppMetricsService,
		Volume: []string{emf.EncryptsStored, emf.DecryptsServed}}
	for _, m := range emf.MetricNames() {
		if strings.HasPrefix(m, emf.FailedMetricPrefix) {
			app.Failures = append(app.Failures, m)
		}
	}
	stack := func(taskRole, appKey, auditKey, trailLogs, appLogs string) rules.DashboardStack {
		return rules.DashboardStack{
			Title:         names.Prefix(),
			Region:        env.Region,
			Params:        stackParams(taskRole, appKey, []string{appKey, auditKey}, names),
			AlarmARNs:     alarmARNs,
			TrailLogGroup: trailLogs,
			AppLogGroup:   appLogs,
			AppKey:        rules.DashboardKey{Label: "app", ARN: appKey, Alias: names.KeyAlias()},
			OtherKeys:     []rules.DashboardKey{{Label: "audit", ARN: auditKey, Alias: names.AuditKeyAlias()}},
			AppMetrics:    app,
		}
	}
	// Render once now, with stand-ins for the ARNs AWS has yet to assign: a rule the dashboard
	// cannot draw stops the program before anything is created, not inside an apply.
	standIn := env.arn("kms", "key/00000000-0000-0000-0000-000000000000")
	if _, err := rules.Dashboard(args.Rules, stack(fmt.Sprintf("arn:%s:iam::%s:role/%s", env.Partition, env.Account, names.Prefix()), standIn, standIn,
		names.TrailLogGroup(), names.AppLogGroup())); err != nil {
		return nil, err
	}
	body := pulumi.All(args.TaskRoleARN, args.AppKeyARN, args.AuditKeyARN, args.TrailLogGroupName, args.AppLogGroupName).ApplyT(
		func(v []any) (string, error) {
			return rules.Dashboard(args.Rules, stack(v[0].(string), v[1].(string), v[2].(string), v[3].(string), v[4].(string)))
		}).(pulumi.StringOutput)
	dash, err := cloudwatch.NewDashboard(ctx, name, &cloudwatch.DashboardArgs{
		DashboardName: pulumi.String(names.Dashboard()),
		DashboardBody: body,
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	d.Name = dash.DashboardName
	d.URL = dash.DashboardName.ApplyT(func(string) string { return url }).(pulumi.StringOutput) // once it exists
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"dashboardName": d.Name, "dashboardUrl": d.URL})
}

// consoleHosts are the AWS console's host names by partition.
var consoleHosts = map[string]string{
	"aws":        "console.aws.amazon.com",
	"aws-cn":     "console.amazonaws.cn",
	"aws-us-gov": "console.amazonaws-us-gov.com",
}

// dashboardURL is the console's link to the dashboard by name, in the stack's Region: the
// console's deep link (#dashboards:name=...), not an address AWS documents as an API.
func dashboardURL(env awsEnv, name string) (string, error) {
	host, ok := consoleHosts[env.Partition]
	if !ok {
		return "", fmt.Errorf("partition %q: no console address known for the dashboard URL", env.Partition)
	}
	return fmt.Sprintf("https://%s/cloudwatch/home?region=%s#dashboards:name=%s", host, env.Region, name), nil
}
