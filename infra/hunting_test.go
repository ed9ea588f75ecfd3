package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/infra/rules"
)

func TestHuntingTableReadsTheTrailBucketThroughPartitionProjection(t *testing.T) {
	run := mustRun(t, baseConfig())
	table := run.one("aws:glue/catalogTable:CatalogTable")
	db := run.one("aws:glue/catalogDatabase:CatalogDatabase")
	bucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket").outStr("bucket")
	if table.str("name") != rules.AthenaTable || table.str("databaseName") != db.str("name") || db.str("name") != "kmswatch_dev" {
		t.Errorf("table %s.%s, want kmswatch_dev.%s", table.str("databaseName"), table.str("name"), rules.AthenaTable)
	}
	if table.str("tableType") != "EXTERNAL_TABLE" {
		t.Errorf("table type %q", table.str("tableType"))
	}
	// The storage AWS documents for CloudTrail: its input format splits {"Records":[...]} files.
	// https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
	for key, want := range map[string]string{
		"location":     "s3://" + bucket + "/AWSLogs/",
		"inputFormat":  "com.amazon.emr.cloudtrail.CloudTrailInputFormat",
		"outputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
	} {
		if got := table.str("storageDescriptor", key); got != want {
			t.Errorf("storage %s = %q, want %q", key, got, want)
		}
	}
	if got := table.str("storageDescriptor", "serDeInfo", "serializationLibrary"); got != "org.apache.hive.hcatalog.data.JsonSerDe" {
		t.Errorf("SerDe %q", got)
	}
	columns, _ := table.in("storageDescriptor", "columns").([]any)
	if len(columns) != len(rules.CloudTrailColumns) {
		t.Fatalf("%d columns, want %d", len(columns), len(rules.CloudTrailColumns))
	}
	for i, c := range rules.CloudTrailColumns {
		if get(columns[i], "name") != c.Name || get(columns[i], "type") != c.Type.Hive() {
			t.Errorf("column %d = %v, want %s %s", i, columns[i], c.Name, c.Type.Hive())
		}
	}
	for i, c := range []string{"eventtime", "errorcode", "requestparameters"} {
		if get(columns[[]int{2, 8, 10}[i]], "name") != c || get(columns[[]int{2, 8, 10}[i]], "type") != "string" {
			t.Errorf("%s is not the string column AWS documents", c)
		}
	}
	var keys []string
	for i := range 3 {
		keys = append(keys, table.str("partitionKeys", i, "name")+" "+table.str("partitionKeys", i, "type"))
	}
	if !slices.Equal(keys, []string{"account string", "region string", "day string"}) {
		t.Errorf("partition keys %v", keys)
	}
	// Projection over CloudTrail's key layout, AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/,
	// the stack's account and region, back as far as the files are kept; no crawler.
	// https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
	for key, want := range map[string]string{
		"projection.enabled":           "true",
		"projection.account.type":      "enum",
		"projection.account.values":    mockAccount,
		"projection.region.type":       "enum",
		"projection.region.values":     mockRegion,
		"projection.day.type":          "date",
		"projection.day.format":        "yyyy/MM/dd",
		"projection.day.range":         "NOW-90DAYS,NOW",
		"projection.day.interval":      "1",
		"projection.day.interval.unit": "DAYS",
		"storage.location.template":    "s3://" + bucket + "/AWSLogs/${account}/CloudTrail/${region}/${day}",
		"classification":               "cloudtrail",
		"EXTERNAL":                     "TRUE",
	} {
		if got := table.str("parameters", key); got != want {
			t.Errorf("table parameter %s = %q, want %q", key, got, want)
		}
	}
	if len(run.all("aws:glue/crawler:Crawler")) != 0 {
		t.Error("a crawler: partition projection needs none")
	}
	// The template, for the stack's account, is where the trail writes: its bucket policy's prefix.
	trailPolicy := run.named("aws:s3/bucketPolicy:BucketPolicy", "audit-trail-bucket-policy").policy(t, "policy")
	writes := strings.TrimSuffix(strings.Replace(statementBySid(t, trailPolicy, "CloudTrailWrite").Resource[0], "arn:aws:s3:::", "s3://", 1), "*")
	if template := strings.Replace(table.str("parameters", "storage.location.template"), "${account}", mockAccount, 1); !strings.HasPrefix(template, writes) {
		t.Errorf("template %q is not under the trail's write prefix %q", template, writes)
	}
}

func TestHuntingWorkgroupEncryptsResultsWithTheAuditKeyAndCapsScans(t *testing.T) {
	run := mustRun(t, baseConfig())
	wg := run.one("aws:athena/workgroup:Workgroup")
	auditKey := run.named("aws:kms/key:Key", "keys-audit").outStr("arn")
	results := run.named("aws:s3/bucketV2:BucketV2", "hunting-results").outStr("bucket")
	if wg.str("name") != "kmswatch-dev-hunting" || !wg.boolean("configuration", "enforceWorkgroupConfiguration") {
		t.Errorf("workgroup %q: settings not enforced", wg.str("name"))
	}
	if got := wg.num("configuration", "bytesScannedCutoffPerQuery"); got != 256<<30 {
		t.Errorf("bytes scanned per query capped at %v, want 256 GiB", got)
	}
	if wg.str("configuration", "resultConfiguration", "encryptionConfiguration", "encryptionOption") != "SSE_KMS" ||
		wg.str("configuration", "resultConfiguration", "encryptionConfiguration", "kmsKeyArn") != auditKey {
		t.Errorf("results encryption %v, want SSE_KMS with the audit key", wg.in("configuration", "resultConfiguration"))
	}
	if got := wg.str("configuration", "resultConfiguration", "outputLocation"); got != "s3://"+results+"/results/" {
		t.Errorf("results go to %q", got)
	}
	if wg.str("configuration", "engineVersion", "selectedEngineVersion") != "Athena engine version 3" {
		t.Error("not on Athena engine version 3 (Trino), which the SQL is written for")
	}

	if results != "kmswatch-dev-athena-"+mockAccount+"-"+mockRegion {
		t.Errorf("results bucket %q", results)
	}
	sse := run.named("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "hunting-results-sse")
	if sse.str("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm") != "aws:kms" ||
		sse.str("rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId") != auditKey {
		t.Errorf("results bucket encryption %v, want aws:kms with the audit key", sse.in("rules"))
	}
	block := run.named("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "hunting-results-public-access")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !block.boolean(k) {
			t.Errorf("results bucket: %s off", k)
		}
	}
	expiry := run.named("aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "hunting-results-expiry")
	if expiry.str("rules", 0, "status") != "Enabled" || expiry.num("rules", 0, "expiration", "days") != resultsExpiryDays {
		t.Errorf("results expiry %v", expiry.in("rules"))
	}
	tls := statementBySid(t, run.named("aws:s3/bucketPolicy:BucketPolicy", "hunting-results-policy").policy(t, "policy"), "DenyInsecureTransport")
	if tls.Effect != "Deny" || tls.Condition["Bool"]["aws:SecureTransport"][0] != "false" {
		t.Errorf("results bucket does not refuse plain HTTP: %+v", tls)
	}
}

// One Athena named query per CloudTrail rule, the text rules.AthenaQuery gives with the stack's role
// and keys (which `kmswatch rules --format athena` prints, see its test); one Logs Insights query
// definition per rule on the log group it reads.
func TestOneSavedQueryPerRuleAsTheCLIPrintsIt(t *testing.T) {
	run := mustRun(t, baseConfig())
	cfg, err := parseConfig(lookupFrom(baseConfig()))
	if err != nil {
		t.Fatal(err)
	}
	p := deployedParams(run)
	wg := run.one("aws:athena/workgroup:Workgroup").str("name")
	db := run.one("aws:glue/catalogDatabase:CatalogDatabase").str("name")
	named, defined := 0, 0
	for _, r := range cfg.Rules() {
		p := r.DeployedParams(p)
		if !r.HasInsightsQuery() {
			// A rule relating the trail with the app's log: no saved query of either kind.
			for _, typ := range []string{"aws:cloudwatch/queryDefinition:QueryDefinition", "aws:athena/namedQuery:NamedQuery"} {
				for _, q := range run.all(typ) {
					if strings.HasSuffix(q.Name, "-"+r.ID) {
						t.Errorf("%s: saved query %s, but no one query over one log judges it", r.ID, q.Name)
					}
				}
			}
			continue
		}
		insights, err := r.InsightsQuery(p)
		if err != nil {
			t.Fatal(err)
		}
		qd := run.named("aws:cloudwatch/queryDefinition:QueryDefinition", "hunting-insights-"+r.ID)
		logGroup := "/kmswatch-dev/cloudtrail"
		if r.Source == rules.AppLogs {
			logGroup = "/kmswatch-dev/app"
		}
		if qd.str("name") != "kmswatch-dev/"+r.ID || qd.str("queryString") != insights || !slices.Equal(qd.strings("logGroupNames"), []string{logGroup}) {
			t.Errorf("%s: query definition %q on %v:\n%s\nwant on %s:\n%s", r.ID, qd.str("name"), qd.strings("logGroupNames"), qd.str("queryString"), logGroup, insights)
		}
		defined++
		if !r.HasAthenaQuery() {
			continue
		}
		sql, err := r.AthenaQuery(p)
		if err != nil {
			t.Fatal(err)
		}
		nq := run.named("aws:athena/namedQuery:NamedQuery", "hunting-athena-"+r.ID)
		if nq.str("name") != r.ID || nq.str("query") != sql || nq.str("workgroup") != wg || nq.str("database") != db {
			t.Errorf("%s: named query %q in %s/%s:\n%s\nwant:\n%s", r.ID, nq.str("name"), nq.str("workgroup"), nq.str("database"), nq.str("query"), sql)
		}
		if !strings.Contains(sql, p.TaskRoleARN) && r.UsesTaskRole() {
			t.Errorf("%s: the saved query does not name the task role", r.ID)
		}
		named++
	}
	if got := len(run.all("aws:athena/namedQuery:NamedQuery")); got != named || named != 5 {
		t.Errorf("%d named queries, want one per CloudTrail rule (%d)", got, named)
	}
	if got := len(run.all("aws:cloudwatch/queryDefinition:QueryDefinition")); got != defined || defined != len(cfg.Rules())-2 {
		t.Errorf("%d query definitions, want one per rule but the two that relate two logs (%d)", got, defined)
	}
	// The stack's thresholds reach the saved queries.
	tuned := mustRun(t, withSettings(map[string]string{"appDecryptVolumeThreshold": "250"}))
	if q := tuned.named("aws:athena/namedQuery:NamedQuery", "hunting-athena-app-decrypt-volume").str("query"); !strings.Contains(q, "WHERE period_count >= 250") {
		t.Errorf("the volume query does not use the stack's threshold:\n%s", q)
	}
}

func TestHuntersPolicyListsWhatTheQueriesNeedAndNoMore(t *testing.T) {
	run := mustRun(t, baseConfig())
	doc := run.one("aws:iam/policy:Policy").policy(t, "policy")
	auditKey := run.named("aws:kms/key:Key", "keys-audit").outStr("arn")
	trailBucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket").outStr("bucket")
	anyResource := map[string]bool{"ReadLogsInsightsResults": true} // actions without resource types
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: %s", s.Sid, s.Effect)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
			if strings.HasPrefix(a, "glue:Create") || strings.HasPrefix(a, "glue:Update") || strings.HasPrefix(a, "glue:Delete") || a == "athena:DeleteNamedQuery" || a == "athena:UpdateWorkGroup" {
				t.Errorf("%s: %s changes what it should only read", s.Sid, a)
			}
		}
		for _, r := range s.Resource {
			if r == "*" && !anyResource[s.Sid] {
				t.Errorf("%s: resource *", s.Sid)
			}
		}
	}
	athena := statementBySid(t, doc, "RunQueriesInTheHuntingWorkgroup")
	if !slices.Equal(athena.Resource, []string{"arn:aws:athena:" + mockRegion + ":" + mockAccount + ":workgroup/kmswatch-dev-hunting"}) {
		t.Errorf("Athena on %v, want the hunting workgroup only", athena.Resource)
	}
	read := statementBySid(t, doc, "ReadTrailLogFiles")
	if !slices.Equal(read.Resource, []string{"arn:aws:s3:::" + trailBucket + "/AWSLogs/" + mockAccount + "/CloudTrail/*"}) || !slices.Equal(read.Action, []string{"s3:GetObject"}) {
		t.Errorf("trail files %+v, want GetObject on the CloudTrail prefix only", read)
	}
	key := statementBySid(t, doc, "UseTheAuditKeyThroughS3")
	if !slices.Equal(key.Resource, []string{auditKey}) || key.Condition["StringEquals"]["kms:ViaService"][0] != "s3."+mockRegion+".amazonaws.com" {
		t.Errorf("audit key use %+v, want through S3 only", key)
	}
	logs := statementBySid(t, doc, "RunLogsInsightsOnTheStacksLogGroups")
	for _, r := range logs.Resource {
		if !strings.Contains(r, ":log-group:/kmswatch-dev/") {
			t.Errorf("Logs Insights on %s", r)
		}
	}
	if run.outputs["huntingPolicyArn"] != run.one("aws:iam/policy:Policy").outStr("arn") || run.outputs["huntingWorkgroup"] != "kmswatch-dev-hunting" {
		t.Errorf("exports %v %v", run.outputs["huntingPolicyArn"], run.outputs["huntingWorkgroup"])
	}
}

// Athena writes results with the caller's permissions, through S3, under the results bucket's
// encryption context: the audit key allows exactly that, and only while hunting is on.
func TestAuditKeyLetsTheAccountUseItForQueryResultsThroughS3Only(t *testing.T) {
	run := mustRun(t, baseConfig())
	policy := run.named("aws:kms/key:Key", "keys-audit").policy(t, "policy")
	results := "arn:aws:s3:::" + run.named("aws:s3/bucketV2:BucketV2", "hunting-results").outStr("bucket")
	s := statementBySid(t, policy, "AthenaQueryResultsInTheAccount")
	if !slices.Equal(s.Action, []string{"kms:GenerateDataKey", "kms:Decrypt"}) || !slices.Equal(s.Principal.AWS, []string{"arn:aws:iam::" + mockAccount + ":root"}) {
		t.Errorf("statement %+v", s)
	}
	if s.Condition["StringEquals"]["kms:ViaService"][0] != "s3."+mockRegion+".amazonaws.com" ||
		!slices.Equal(s.Condition["ArnLike"]["kms:EncryptionContext:aws:s3:arn"], []string{results, results + "/*"}) {
		t.Errorf("conditions %v, want through S3 for the results bucket only", s.Condition)
	}

	off := mustRun(t, withSettings(map[string]string{"hunting": "false"}))
	for _, st := range off.named("aws:kms/key:Key", "keys-audit").policy(t, "policy").Statement {
		if st.Sid == "AthenaQueryResultsInTheAccount" {
			t.Error("hunting off, yet the audit key allows query results")
		}
	}
	for _, typ := range []string{"kmswatch:hunting:Hunting", "aws:glue/catalogTable:CatalogTable", "aws:athena/workgroup:Workgroup",
		"aws:athena/namedQuery:NamedQuery", "aws:cloudwatch/queryDefinition:QueryDefinition", "aws:iam/policy:Policy"} {
		if n := len(off.all(typ)); n != 0 {
			t.Errorf("hunting off, yet %d %s", n, typ)
		}
	}
	if _, ok := off.outputs["huntingWorkgroup"]; ok {
		t.Error("hunting off, yet the workgroup is exported")
	}
}

// Names AWS checks and the mocks do not, for an ordinary and an awkward stack name.
// https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
// https://docs.aws.amazon.com/glue/latest/webapi/API_CreateDatabase.html
// https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html
// https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateNamedQuery.html
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutQueryDefinition.html
func TestHuntingNamesFitAWSLimits(t *testing.T) {
	athenaName := nameRule{255, regexp.MustCompile(`^[a-z0-9_]+$`), nil, "Athena database and table names"}
	workgroupName := nameRule{128, regexp.MustCompile(`^[a-zA-Z0-9._-]+$`), nil, "Athena CreateWorkGroup"}
	namedQueryName := nameRule{128, regexp.MustCompile(`^.+$`), nil, "Athena CreateNamedQuery Name"}
	namedQueryText := nameRule{1024, regexp.MustCompile(`(?s)^.+$`), nil, "Athena CreateNamedQuery Description"}
	queryDefinitionName := nameRule{255, regexp.MustCompile(`^.+$`), nil, "CloudWatch Logs PutQueryDefinition name"}
	for _, stack := range stackNamesUnderTest {
		t.Run(stack, func(t *testing.T) {
			run := runStack(t, stack, baseConfig())
			if run.err != nil {
				t.Fatal(run.err)
			}
			athenaName.check(t, "Glue database", run.one("aws:glue/catalogDatabase:CatalogDatabase").str("name"))
			athenaName.check(t, "Glue table", run.one("aws:glue/catalogTable:CatalogTable").str("name"))
			workgroupName.check(t, "workgroup", run.one("aws:athena/workgroup:Workgroup").str("name"))
			for _, q := range run.all("aws:athena/namedQuery:NamedQuery") {
				namedQueryName.check(t, "named query", q.str("name"))
				namedQueryText.check(t, "named query description", q.str("description"))
				if n := len(q.str("query")); n == 0 || n > 262144 {
					t.Errorf("named query %s: %d characters, Athena takes 1 to 262,144", q.str("name"), n)
				}
			}
			for _, q := range run.all("aws:cloudwatch/queryDefinition:QueryDefinition") {
				queryDefinitionName.check(t, "query definition", q.str("name"))
				if n := len(q.str("queryString")); n == 0 || n > 10000 {
					t.Errorf("query definition %s: %d characters, CloudWatch Logs takes 1 to 10,000", q.str("name"), n)
				}
			}
		})
	}
}

// The CIS rule's alarm watches every key in the account; its saved queries must too, while the
// key-change rule's are scoped to the stack's keys and aliases.
func TestSavedQueriesJudgeWhatTheAlarmsJudge(t *testing.T) {
	run := mustRun(t, baseConfig())
	cis := run.named("aws:athena/namedQuery:NamedQuery", "hunting-athena-kms-key-disable-or-delete").str("query")
	if strings.Contains(cis, "requestparameters") || strings.Contains(cis, "resources") {
		t.Errorf("the CIS rule's saved query is scoped to keys; its alarm watches every key:\n%s", cis)
	}
	change := run.named("aws:athena/namedQuery:NamedQuery", "hunting-athena-kms-key-policy-change").str("query")
	for _, want := range []string{"alias/kmswatch-dev-app", "json_extract_scalar(requestparameters, '$.aliasName')"} {
		if !strings.Contains(change, want) {
			t.Errorf("the key-change rule's saved query lacks %q:\n%s", want, change)
		}
	}
}

// An organization trail brought with its Regions, accounts and key: the table projects them over
// AWSLogs/<organization id>/<account>/CloudTrail/<region>/<day>, the hunters may read those
// accounts' folders there and decrypt with the trail's key through S3, beside the audit key.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-find-log-files.html
func TestHuntingOverABroughtOrganizationTrail(t *testing.T) {
	const (
		bucket, org = "aws-controltower-logs-111122223333-us-east-1", "o-a1b2c3d4e5"
		member      = "111122223333"
		trailKey    = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	)
	run := mustRun(t, withSettings(map[string]string{
		"trailLogGroupName": "aws-controltower/CloudTrailLogs", "trailBucketName": bucket,
		"trailOrganizationId": org, "trailKmsKeyArn": trailKey,
		"huntingRegions": `["eu-west-1","us-east-1","eu-central-1"]`, "huntingAccounts": `["` + mockAccount + `","` + member + `"]`,
	}))
	table := run.one("aws:glue/catalogTable:CatalogTable")
	for key, want := range map[string]string{
		"projection.account.values": mockAccount + "," + member,
		"projection.region.values":  "eu-west-1,us-east-1,eu-central-1",
		"storage.location.template": "s3://" + bucket + "/AWSLogs/" + org + "/${account}/CloudTrail/${region}/${day}",
	} {
		if got := table.str("parameters", key); got != want {
			t.Errorf("table parameter %s = %q, want %q", key, got, want)
		}
	}
	if got := table.str("storageDescriptor", "location"); got != "s3://"+bucket+"/AWSLogs/"+org+"/" {
		t.Errorf("table location %q, want the organization's folder", got)
	}

	doc := run.one("aws:iam/policy:Policy").policy(t, "policy")
	read := statementBySid(t, doc, "ReadTrailLogFiles")
	wantFiles := []string{
		"arn:aws:s3:::" + bucket + "/AWSLogs/" + org + "/" + mockAccount + "/CloudTrail/*",
		"arn:aws:s3:::" + bucket + "/AWSLogs/" + org + "/" + member + "/CloudTrail/*",
	}
	if !slices.Equal(read.Resource, wantFiles) {
		t.Errorf("trail files %v, want %v", read.Resource, wantFiles)
	}
	list := statementBySid(t, doc, "ListTrailLogFiles")
	wantPrefixes := []string{"AWSLogs/" + org + "/" + mockAccount + "/CloudTrail/*", "AWSLogs/" + org + "/" + member + "/CloudTrail/*"}
	if !slices.Equal(list.Resource, []string{"arn:aws:s3:::" + bucket}) || !slices.Equal(list.Condition["StringLike"]["s3:prefix"], wantPrefixes) {
		t.Errorf("listing %+v, want the bucket under prefixes %v", list, wantPrefixes)
	}
	// Each projected location lies under a path the hunters may read.
	template := table.str("parameters", "storage.location.template")
	for _, a := range []string{mockAccount, member} {
		for _, r := range []string{"eu-west-1", "us-east-1", "eu-central-1"} {
			key := strings.NewReplacer("${account}", a, "${region}", r, "${day}", "2026/11/24").Replace(strings.TrimPrefix(template, "s3://"+bucket+"/"))
			if !slices.ContainsFunc(wantPrefixes, func(p string) bool { return strings.HasPrefix(key, strings.TrimSuffix(p, "*")) }) {
				t.Errorf("projected %s is under no readable prefix %v", key, wantPrefixes)
			}
		}
	}
	brought := statementBySid(t, doc, "DecryptTheTrailsLogFilesThroughS3")
	if !slices.Equal(brought.Action, []string{"kms:Decrypt"}) || !slices.Equal(brought.Resource, []string{trailKey}) ||
		!slices.Equal(brought.Condition["StringEquals"]["kms:ViaService"], []string{"s3.us-east-1.amazonaws.com"}) {
		t.Errorf("brought key use %+v, want Decrypt through S3 in the key's Region only", brought)
	}
	// The results are still the audit key's.
	auditKey := run.named("aws:kms/key:Key", "keys-audit").outStr("arn")
	if audit := statementBySid(t, doc, "UseTheAuditKeyThroughS3"); !slices.Equal(audit.Resource, []string{auditKey}) {
		t.Errorf("audit key statement %+v", audit)
	}
}

// The stack's own multi-Region trail: the listed Regions are projected, its one account folder
// still is what the hunters read, and no other key is named.
func TestHuntingOverTheOwnTrailsRegions(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"huntingRegions": `["us-east-1","` + mockRegion + `"]`}))
	table := run.one("aws:glue/catalogTable:CatalogTable")
	bucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket").outStr("bucket")
	if got := table.str("parameters", "projection.region.values"); got != "us-east-1,"+mockRegion {
		t.Errorf("regions %q", got)
	}
	if got := table.str("parameters", "projection.account.values"); got != mockAccount {
		t.Errorf("accounts %q", got)
	}
	if got := table.str("parameters", "storage.location.template"); got != "s3://"+bucket+"/AWSLogs/${account}/CloudTrail/${region}/${day}" {
		t.Errorf("template %q", got)
	}
	doc := run.one("aws:iam/policy:Policy").policy(t, "policy")
	if read := statementBySid(t, doc, "ReadTrailLogFiles"); !slices.Equal(read.Resource, []string{"arn:aws:s3:::" + bucket + "/AWSLogs/" + mockAccount + "/CloudTrail/*"}) {
		t.Errorf("trail files %v", read.Resource)
	}
	for _, s := range doc.Statement {
		if s.Sid == "DecryptTheTrailsLogFilesThroughS3" {
			t.Error("a brought key's statement without a brought trail")
		}
	}
}

// What only the stack's account, Region and partition can judge stops the program before any
// resource, every mistake at once.
func TestHuntingScopeRefusals(t *testing.T) {
	brought := map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "org-trail-logs"}
	with := func(extra map[string]string) map[string]string {
		s := withSettings(brought)
		for k, v := range extra {
			s[k] = v
		}
		return s
	}
	for _, tt := range []struct {
		name     string
		settings map[string]string
		want     []string
	}{
		{"Regions without the stack's", withSettings(map[string]string{"huntingRegions": `["us-east-1"]`}),
			[]string{"huntingRegions us-east-1 leaves out the stack's Region " + mockRegion}},
		{"accounts without the stack's", with(map[string]string{"huntingAccounts": `["111122223333"]`}),
			[]string{"huntingAccounts 111122223333 leaves out the stack's account " + mockAccount}},
		{"other accounts on the stack's own trail", withSettings(map[string]string{"huntingAccounts": `["` + mockAccount + `","111122223333"]`}),
			[]string{"the stack's own trail writes only account " + mockAccount + "'s files", "brought trail"}},
		{"trail key of another partition", with(map[string]string{"trailKmsKeyArn": "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
			[]string{"trailKmsKeyArn", "partition aws-cn, the stack in aws"}},
		{"all at once, with the certificate's Region", withSettings(map[string]string{
			"huntingRegions": `["us-east-1"]`, "huntingAccounts": `["111122223333"]`, "domainName": "kms.acme-corp.io",
			"certificateArn": "arn:aws:acm:us-west-2:" + mockAccount + ":certificate/0a1b2c3d-1111-2222-3333-444455556666",
		}), []string{"certificateArn is in us-west-2", "huntingRegions us-east-1 leaves out", "huntingAccounts 111122223333 leaves out", "the stack's own trail writes only"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run := runStack(t, "dev", tt.settings)
			if run.err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(run.err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, run.err)
				}
			}
			if len(run.resources) != 0 {
				t.Errorf("%d resources registered before the error", len(run.resources))
			}
		})
	}
	// Hunting off: the hunting settings judge nothing that is deployed.
	if run := runStack(t, "dev", withSettings(map[string]string{"hunting": "false", "huntingRegions": `["us-east-1"]`})); run.err != nil {
		t.Errorf("hunting off: %v", run.err)
	}
}

// The most accounts huntingAccounts takes, with the longest bucket name and organization id,
// still fit the hunters' policy in IAM's 6,144 characters for a managed policy.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
func TestHuntersPolicyFitsIAMsLimitWithTheMostAccounts(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{
		"trailLogGroupName": "aws-controltower/CloudTrailLogs", "trailBucketName": strings.Repeat("b", 63),
		"trailOrganizationId": "o-" + strings.Repeat("a", 32),
		"trailKmsKeyArn":      "arn:aws:kms:ap-southeast-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
		"huntingAccounts":     accountList(maxHuntingAccounts),
	}))
	policy := run.one("aws:iam/policy:Policy").str("policy")
	if n := len(policy); n > 6144 {
		t.Errorf("hunters' policy with %d accounts: %d characters, IAM takes 6,144", maxHuntingAccounts, n)
	} else {
		t.Logf("hunters' policy with %d accounts: %d characters", maxHuntingAccounts, n)
	}
}

// With every name at its longest (a 512-character brought log group name too), the most accounts
// overflow it after all: refused before anything is created, not by IAM at `pulumi up`.
func TestHuntersPolicyTooLongIsRefused(t *testing.T) {
	run := runStack(t, "dev", withSettings(map[string]string{
		"trailLogGroupName": "/" + strings.Repeat("g", 511), "trailBucketName": strings.Repeat("b", 63),
		"trailOrganizationId": "o-" + strings.Repeat("a", 32), "huntingAccounts": accountList(maxHuntingAccounts),
		"trailKmsKeyArn": "arn:aws:kms:ap-southeast-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
	}))
	if run.err == nil || !strings.Contains(run.err.Error(), "huntingAccounts: the hunters' policy for 12 accounts with these names would be") {
		t.Fatalf("want the policy's size refused, got %v", run.err)
	}
	if len(run.resources) != 0 {
		t.Errorf("%d resources registered before the error", len(run.resources))
	}
}
