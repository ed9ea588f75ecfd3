package main

import (
	"fmt"
	"strings"

	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/athena"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/glue"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// HuntingArgs: the trail's files and log groups to hunt over, the rules to hunt with, and the key
// that encrypts query results.
type HuntingArgs struct {
	Env   awsEnv
	Names stackNames
	Rules []rules.Rule

	TaskRoleARN pulumi.StringInput
	AppKeyARN   pulumi.StringInput
	KeyARNs     pulumi.StringArrayInput

	// TrailBucket holds AWSLogs/<account>/CloudTrail/<region>/...: the stack's trail bucket, or a
	// brought trail's, with an organization trail's AWSLogs/<TrailOrganizationID>/<account>/...
	// TrailAccounts and TrailRegions are the folders to project (default: the stack's).
	TrailBucket         pulumi.StringInput
	TrailOrganizationID string
	TrailAccounts       []string
	TrailRegions        []string
	HistoryDays         int // how far back the day projection reaches: the files' retention
	// TrailKMSKeyARN is the key a brought trail's files are SSE-KMS under ("" for none, or for the
	// stack's own trail, whose files are under AuditKeyARN).
	TrailKMSKeyARN string

	TrailLogGroupName pulumi.StringInput
	AppLogGroupName   pulumi.StringInput
	AuditKeyARN       pulumi.StringInput
}

// Hunting is the query side over the trail's history: a Glue table over the trail bucket with
// partition projection, an Athena workgroup whose results the audit key encrypts, one Athena named
// query and one Logs Insights saved query per rule, and the IAM policy that whoever runs them needs.
type Hunting struct {
	pulumi.ResourceState

	DatabaseName  pulumi.StringOutput
	WorkgroupName pulumi.StringOutput
	ResultsBucket pulumi.StringOutput
	PolicyARN     pulumi.StringOutput
}

const (
	// bytesScannedCutoff stops a query that would scan more: 256 GiB is $1.37 at $5 per TB. A year
	// of one busy account's gzip'd trail is 100 to 380 GiB by the README's hunting section (its two
	// gzip ratios): a week's query is far below it, a whole year's may need splitting.
	// https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html
	bytesScannedCutoff = 256 << 30
	resultsExpiryDays  = 7 // query results are working copies; the trail keeps the records
	athenaEngine       = "Athena engine version 3"
	// IAM's limit for a managed policy document (whitespace aside; JSON() writes none).
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
	managedPolicyMaxChars = 6144
)

// Fixed names, so that the key policy (created first) and the hunters' policy can name them.
// Athena database names take lower-case letters, digits and underscores only.
// https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
func (n stackNames) HuntingDatabase() string  { return strings.ReplaceAll(n.prefix, "-", "_") }
func (n stackNames) HuntingWorkgroup() string { return n.prefix + "-hunting" }

// AthenaResultsBucket is globally unique by account and region, as S3 bucket names must be.
func (n stackNames) AthenaResultsBucket(env awsEnv) string {
	return n.prefix + "-athena-" + env.Account + "-" + env.Region
}
func (n stackNames) SavedQuery(ruleID string) string { return n.prefix + "/" + ruleID } // a folder per stack in the console

func (e awsEnv) s3BucketARN(name string) string { return "arn:" + e.Partition + ":s3:::" + name }

func newHunting(ctx *pulumi.Context, name string, args HuntingArgs, opts ...pulumi.ResourceOption) (*Hunting, error) {
	h := &Hunting{}
	if err := ctx.RegisterComponentResource("kmswatch:hunting:Hunting", name, h, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(h)
	env, names := args.Env, args.Names
	accounts, regions := args.TrailAccounts, args.TrailRegions
	if len(accounts) == 0 {
		accounts = []string{env.Account}
	}
	if len(regions) == 0 {
		regions = []string{env.Region}
	}

	results, err := newResultsBucket(ctx, name, env, names, args.AuditKeyARN, parent)
	if err != nil {
		return nil, err
	}
	db, err := glue.NewCatalogDatabase(ctx, name+"-database", &glue.CatalogDatabaseArgs{
		Name:        pulumi.String(names.HuntingDatabase()),
		Description: pulumi.String("kmswatch: the CloudTrail trail's log files, for Athena"),
	}, parent)
	if err != nil {
		return nil, err
	}
	table, err := glue.NewCatalogTable(ctx, name+"-cloudtrail-table", &glue.CatalogTableArgs{
		Name:              pulumi.String(rules.AthenaTable),
		DatabaseName:      db.Name,
		TableType:         pulumi.String("EXTERNAL_TABLE"),
		Description:       pulumi.String("CloudTrail log files as AWS documents the table, partitioned by account, region and day"),
		Parameters:        cloudTrailTableParameters(args.TrailBucket, args.TrailOrganizationID, accounts, regions, args.HistoryDays),
		PartitionKeys:     cloudTrailPartitionKeys(),
		StorageDescriptor: cloudTrailStorage(args.TrailBucket, args.TrailOrganizationID),
	}, parent)
	if err != nil {
		return nil, err
	}
	workgroup, err := athena.NewWorkgroup(ctx, name+"-workgroup", &athena.WorkgroupArgs{
		Name:         pulumi.String(names.HuntingWorkgroup()),
		Description:  pulumi.String("kmswatch: hunting queries over the CloudTrail trail"),
		ForceDestroy: pulumi.Bool(true), // destroy takes its named queries and query history with it
		Configuration: &athena.WorkgroupConfigurationArgs{
			// Queries cannot override the output location, the encryption or the limit.
			// https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html
			EnforceWorkgroupConfiguration:   pulumi.Bool(true),
			PublishCloudwatchMetricsEnabled: pulumi.Bool(true),
			BytesScannedCutoffPerQuery:      pulumi.Int(bytesScannedCutoff),
			EngineVersion:                   &athena.WorkgroupConfigurationEngineVersionArgs{SelectedEngineVersion: pulumi.String(athenaEngine)},
			ResultConfiguration: &athena.WorkgroupConfigurationResultConfigurationArgs{
				OutputLocation:      pulumi.Sprintf("s3://%s/results/", results.Bucket),
				ExpectedBucketOwner: pulumi.String(env.Account),
				// https://docs.aws.amazon.com/athena/latest/ug/encrypting-query-results-stored-in-s3.html
				EncryptionConfiguration: &athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs{
					EncryptionOption: pulumi.String("SSE_KMS"),
					KmsKeyArn:        args.AuditKeyARN,
				},
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	for _, r := range args.Rules {
		if err := newRuleQueries(ctx, name, r, args, db, workgroup, parent); err != nil {
			return nil, err
		}
	}

	policy, err := iam.NewPolicy(ctx, name+"-hunters", &iam.PolicyArgs{
		Description: pulumi.String("kmswatch: what a person needs to run the hunting queries (Athena workgroup, Logs Insights), and nothing else"),
		Policy: pulumi.All(args.TrailBucket, args.AuditKeyARN, args.TrailLogGroupName, args.AppLogGroupName).ApplyT(func(v []any) string {
			return huntersPolicy(env, names, huntersPolicyArgs{
				TrailBucket: v[0].(string), TrailOrganizationID: args.TrailOrganizationID, Accounts: accounts,
				AuditKeyARN: v[1].(string), TrailKeyARN: args.TrailKMSKeyARN,
				TrailLogGroup: v[2].(string), AppLogGroup: v[3].(string),
			}).JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, err
	}

	h.DatabaseName = db.Name
	h.WorkgroupName = workgroup.Name
	h.ResultsBucket = results.Bucket
	h.PolicyARN = policy.Arn
	return h, ctx.RegisterResourceOutputs(h, pulumi.Map{
		"databaseName":  db.Name,
		"tableName":     table.Name,
		"workgroupName": workgroup.Name,
		"resultsBucket": results.Bucket,
		"policyArn":     policy.Arn,
	})
}

// newRuleQueries saves the rule's Athena query in the workgroup (CloudTrail rules) and its Logs
// Insights query, both rendered by the rules package with the stack's role and keys. A rule that
// relates the trail with the app's log has neither (rules.ErrTwoLogs): replay judges it.
func newRuleQueries(ctx *pulumi.Context, name string, r rules.Rule, args HuntingArgs, db *glue.CatalogDatabase, workgroup *athena.Workgroup, parent pulumi.ResourceOption) error {
	params := pulumi.All(args.TaskRoleARN, args.AppKeyARN, args.KeyARNs)
	render := func(query func(rules.Rule, rules.Params) (string, error)) pulumi.StringOutput {
		return params.ApplyT(func(v []any) (string, error) {
			return query(r, r.DeployedParams(stackParams(v[0].(string), v[1].(string), v[2].([]string), args.Names)))
		}).(pulumi.StringOutput)
	}
	description := fmt.Sprintf("[%s] %s. %s", r.Severity, r.Title, r.Firing)
	if r.HasAthenaQuery() {
		if _, err := athena.NewNamedQuery(ctx, name+"-athena-"+r.ID, &athena.NamedQueryArgs{
			Name:        pulumi.String(r.ID),
			Description: pulumi.String(description),
			Database:    db.Name,
			Workgroup:   workgroup.Name,
			Query:       render(rules.Rule.AthenaQuery),
		}, parent); err != nil {
			return err
		}
	}
	if !r.HasInsightsQuery() {
		return nil
	}
	logGroup := args.TrailLogGroupName
	if r.InsightsOnAppLogs() {
		logGroup = args.AppLogGroupName
	}
	_, err := cloudwatch.NewQueryDefinition(ctx, name+"-insights-"+r.ID, &cloudwatch.QueryDefinitionArgs{
		Name:          pulumi.String(args.Names.SavedQuery(r.ID)),
		LogGroupNames: pulumi.StringArray{logGroup},
		QueryString:   render(rules.Rule.InsightsQuery),
	}, parent)
	return err
}

// trailKeyPrefix is where CloudTrail's account folders begin in its bucket: AWSLogs/<account>/...
// for a trail of one account, AWSLogs/<organization id>/<account>/... for an organization trail.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-find-log-files.html
func trailKeyPrefix(organizationID string) string {
	if organizationID == "" {
		return "AWSLogs/"
	}
	return "AWSLogs/" + organizationID + "/"
}

// cloudTrailTableParameters: partition projection over CloudTrail's key layout, so that Athena
// computes the partitions of a query's days instead of a crawler listing them. Each projected
// account and Region is one more prefix per day that a query lists.
// https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
// https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
func cloudTrailTableParameters(bucket pulumi.StringInput, organizationID string, accounts, regions []string, historyDays int) pulumi.StringMap {
	a, r, d := rules.PartitionAccount, rules.PartitionRegion, rules.PartitionDay
	return pulumi.StringMap{
		"EXTERNAL":                           pulumi.String("TRUE"),
		"classification":                     pulumi.String("cloudtrail"),
		"projection.enabled":                 pulumi.String("true"),
		"projection." + a + ".type":          pulumi.String("enum"),
		"projection." + a + ".values":        pulumi.String(strings.Join(accounts, ",")),
		"projection." + r + ".type":          pulumi.String("enum"),
		"projection." + r + ".values":        pulumi.String(strings.Join(regions, ",")),
		"projection." + d + ".type":          pulumi.String("date"),
		"projection." + d + ".format":        pulumi.String(rules.DayFormat),
		"projection." + d + ".range":         pulumi.String(fmt.Sprintf("NOW-%dDAYS,NOW", historyDays)),
		"projection." + d + ".interval":      pulumi.String("1"),
		"projection." + d + ".interval.unit": pulumi.String("DAYS"),
		"storage.location.template":          pulumi.Sprintf("s3://%s/%s${%s}/CloudTrail/${%s}/${%s}", bucket, trailKeyPrefix(organizationID), a, r, d),
	}
}

func cloudTrailPartitionKeys() glue.CatalogTablePartitionKeyArray {
	var keys glue.CatalogTablePartitionKeyArray
	for _, k := range rules.AthenaPartitionKeys {
		keys = append(keys, glue.CatalogTablePartitionKeyArgs{Name: pulumi.String(k), Type: pulumi.String("string")})
	}
	return keys
}

func cloudTrailStorage(bucket pulumi.StringInput, organizationID string) *glue.CatalogTableStorageDescriptorArgs {
	var columns glue.CatalogTableStorageDescriptorColumnArray
	for _, c := range rules.CloudTrailColumns {
		columns = append(columns, glue.CatalogTableStorageDescriptorColumnArgs{Name: pulumi.String(c.Name), Type: pulumi.String(c.Type.Hive())})
	}
	return &glue.CatalogTableStorageDescriptorArgs{
		Location:     pulumi.Sprintf("s3://%s/%s", bucket, trailKeyPrefix(organizationID)),
		InputFormat:  pulumi.String(rules.CloudTrailInputFormat),
		OutputFormat: pulumi.String(rules.CloudTrailOutputFormat),
		SerDeInfo:    &glue.CatalogTableStorageDescriptorSerDeInfoArgs{SerializationLibrary: pulumi.String(rules.CloudTrailSerDe)},
		Columns:      columns,
	}
}
