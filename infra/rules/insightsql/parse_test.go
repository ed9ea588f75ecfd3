package insightsql

import (
	"slices"
	"strings"
	"testing"
)

// The reference's own examples, as AWS publishes them, so that the parser is held to the
// documented language and not only to what kmswatch renders. Sources:
const (
	syntaxPage   = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html"
	examplesPage = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html"
	widgetPage   = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"
)

var documented = []struct {
	source, name, query string
	sources             []string // the log groups of a log widget query
}{
	{syntaxPage, "display after parse", "fields @message\n    | parse @message \"[*] *\" as loggingType, loggingMessage\n    | filter loggingType = \"ERROR\"\n    | display loggingMessage\n    ", nil},
	{syntaxPage, "fields in backticks and arithmetic", "fields `foo-bar`, action, abs(f3-f4)", nil},
	{syntaxPage, "fields with a function and an alias", "fields concat(Operation, '-', StatusCode) as opStatus", nil},
	{syntaxPage, "filter in parentheses", "fields f1, f2, f3 | filter (duration>2000)", nil},
	{syntaxPage, "filter alone", "filter (duration>2000)", nil},
	{syntaxPage, "filter with or", "fields f1, f2 | filter (f1=10 or f3>25)", nil},
	{syntaxPage, "like a regex", `fields f1 | filter statusCode like /2\d\d/`, nil},
	{syntaxPage, "not like a regex", `fields f1 | filter statusCode not like /2\d\d/`, nil},
	{syntaxPage, "in a list of numbers", "fields @timestamp, @message \n    | filter statusCode in [300,400,500]", nil},
	{syntaxPage, "not in a mixed list", "fields @timestamp, @message\n    | filter Type not in [\"foo\",\"bar\",1]", nil},
	{syntaxPage, "stats with a space before the parenthesis", "stats avg (f1) by f2", nil},
	{syntaxPage, "count per bin, sorted", "filter @message like /Exception/ \n| stats count(*) as exceptionCount by bin(1h)\n| sort exceptionCount desc                                  \n", nil},
	{syntaxPage, "sort", "fields f1, f2, f3 | sort f1 desc", nil},
	{syntaxPage, "sort, limit, display", "sort @timestamp desc | limit 25  |  display f1, f2", nil},
	{syntaxPage, "parse a glob", `parse @message "[*] * The error was: *" as level, config, exception`, nil},
	{syntaxPage, "parse a regex with named groups", `parse @message /\[(?<level>\S+)\]\s+(?<config>\{.*\})\s+The error was: (?<exception>\S+)/`, nil},
	{syntaxPage, "parse a regex, then stats", "parse @message /user=(?<user2>.*?), method:(?<method2>.*?), latency := (?<latency2>.*?)/ \n    | stats avg(latency2) by method2, user2", nil},
	{syntaxPage, "in a list", "fields @timestamp, @message\n| filter logGroup in [\"example_group\"]", nil},
	{syntaxPage, "like a string", "fields f1, f2, f3 \n| filter f1 like \"Exception\"", nil},
	{syntaxPage, "=~", "fields f1, f2, f3 \n| filter f1 =~ /Exception/", nil},
	{syntaxPage, "a wildcard regex", "fields f1, f2, f3\n| filter f3 like /E*/", nil},
	{syntaxPage, "not like a string", "fields f1, f2, f3 \n| filter f1 not like \"Exception\"", nil},
	{syntaxPage, "a case-insensitive regex", "fields f1, f2, f3 \n| filter f1 like /(?i)Exception/", nil},
	{syntaxPage, "an alias in fields", "fields abs(myField) as AbsoluteValuemyField, myField2", nil},
	{syntaxPage, "an alias in stats, sorted by it", "stats avg(f1) as myAvgF1 | sort myAvgF1 desc", nil},
	{syntaxPage, "a comment line", "fields @timestamp, @message\n    # | filter @message like /delay/\n    | limit 20", nil},
	{examplesPage, "the 25 newest events", "fields @timestamp, @message | sort @timestamp desc | limit 25", nil},
	{examplesPage, "exceptions per hour", "filter @message like /Exception/ \n    | stats count(*) as exceptionCount by bin(1h)\n    | sort exceptionCount desc", nil},
	{examplesPage, "not exceptions", "fields @message | filter @message not like /Exception/", nil},
	{examplesPage, "Lambda overprovisioned memory", "filter @type = \"REPORT\"\n    | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,\n        min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB,\n        avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,\n        max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB,\n        provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB", nil},
	{examplesPage, "Lambda latency report", "filter @type = \"REPORT\" |\n    stats avg(@duration), max(@duration), min(@duration) by bin(5m)", nil},
	{examplesPage, "VPC top transfers", "stats sum(packets) as packetsTransferred by srcAddr, dstAddr\n    | sort packetsTransferred  desc\n    | limit 15", nil},
	{examplesPage, "VPC subnet", "filter isIpv4InSubnet(srcAddr, \"192.0.2.0/24\")\n    | stats sum(bytes) as bytesTransferred by dstAddr\n    | sort bytesTransferred desc\n    | limit 15", nil},
	{examplesPage, "UDP", "filter protocol=17 | stats count(*) by srcAddr", nil},
	{examplesPage, "skipped records", "filter logStatus=\"SKIPDATA\"\n    | stats count(*) by bin(1h) as t\n    | sort t", nil},
	{examplesPage, "Route 53 by type", "stats count(*) by queryType, bin(1h)", nil},
	{examplesPage, "Route 53 resolvers", "stats count(*) as numRequests by resolverIp\n    | sort numRequests desc\n    | limit 10", nil},
	{examplesPage, "Route 53 failures", "filter responseCode=\"SERVFAIL\" | stats count(*) by queryName", nil},
	{examplesPage, "CloudTrail by service", "stats count(*) by eventSource, eventName, awsRegion", nil},
	{examplesPage, "CloudTrail EC2 starts and stops", "filter (eventName=\"StartInstances\" or eventName=\"StopInstances\") and awsRegion=\"us-east-2\"", nil},
	{examplesPage, "CloudTrail new IAM users", "filter eventName=\"CreateUser\"\n    | fields awsRegion, requestParameters.userName, responseElements.user.arn", nil},
	{examplesPage, "CloudTrail UpdateTrail errors", "filter eventName=\"UpdateTrail\" and ispresent(errorCode)\n    | stats count(*) by errorCode, errorMessage", nil},
	{examplesPage, "NAT gateway senders", "filter (dstAddr like 'x.x.x.x' and srcAddr like 'y.y.') \n| stats sum(bytes) as bytesTransferred by srcAddr, dstAddr\n| sort bytesTransferred desc\n| limit 10", nil},
	{examplesPage, "NAT gateway uploads", "filter (srcAddr like 'x.x.x.x' and dstAddr not like 'y.y.') \n| stats sum(bytes) as bytesTransferred by srcAddr, dstAddr\n| sort bytesTransferred desc\n| limit 10", nil},
	{examplesPage, "Apache admin path", "fields @timestamp, remoteIP, request, status, filename| sort @timestamp desc\n| filter filename=\"/var/www/html/admin\"\n| limit 20", nil},
	{examplesPage, "Apache restarts", "fields @timestamp, function, process, message\n| filter message like \"resuming normal operations\"\n| sort @timestamp desc\n| limit 20", nil},
	{examplesPage, "parse a glob into @ fields", "parse @message \"user=*, method:*, latency := *\" as @user,\n    @method, @latency | stats avg(@latency) by @method,\n    @user", nil},
	{examplesPage, "parse a regex over two lines", "parse @message /user=(?<user2>.*?), method:(?<method2>.*?),\n    latency := (?<latency2>.*?)/ | stats avg(latency2) by @method2, \n    @user2", nil},
	{examplesPage, "commands in capitals", "FIELDS @message\n    | PARSE @message \"* [*] *\" as loggingTime, loggingType, loggingMessage\n    | FILTER loggingType IN [\"ERROR\", \"INFO\"]\n    | DISPLAY loggingMessage, loggingType = \"ERROR\" as isError", nil},
	{widgetPage, "two log groups", "SOURCE 'service_log1' | SOURCE 'service_log2' |filter Fault > 0\n| fields Fault.Message\n| stats count(*) by Canary.Name, Fault.Message", []string{"service_log1", "service_log2"}},
	{widgetPage, "parse without a field or as", "SOURCE 'application1.log' | SOURCE 'application2.log' | filter @message like \"[ERROR]\"\n| parse \"Error for [*] [*] due to: *\" canaryName1, canaryId1, cause1\n| parse \"Executor canary [*] *\" canaryName2, cause2\n| fields coalesce(cause1, cause2) as cause\n| fields coalesce(canaryName1, canaryName2) as canaryName\n| fields ispresent(cause) as isP\n| filter isP\n| stats count() as errCount by canaryName, substr(cause, 0, 130)\n| sort errCount DESC", []string{"application1.log", "application2.log"}},
}

func TestParsesTheDocumentedExamples(t *testing.T) {
	for _, ex := range documented {
		q, err := Parse(ex.query)
		if err != nil {
			t.Errorf("%s (%s): %v\n%s", ex.name, ex.source, err, ex.query)
			continue
		}
		if !slices.Equal(q.Sources, ex.sources) {
			t.Errorf("%s: sources %q, want %q", ex.name, q.Sources, ex.sources)
		}
		if len(q.Commands) == 0 {
			t.Errorf("%s: no commands", ex.name)
		}
	}
}

// One documented example lies outside the subset: the Apache sample compares with a bare URL
// (referrer= http://34.250.27.141/). The parser says so rather than guess what Insights does.
func TestRefusesABareURLOperand(t *testing.T) {
	_, err := Parse("fields @timestamp, remoteIP, method, status\n| filter status=\"200\" and referrer= http://34.250.27.141/ and method= \"GET\"\n| stats count_distinct(remoteIP) as UniqueVisits\n| limit 10")
	if err == nil || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("bare URL accepted (%v)", err)
	}
}

func TestReadsCommandsAndSources(t *testing.T) {
	q, err := Parse("SOURCE '/kmswatch-dev/cloudtrail' | filter eventSource = \"kms.amazonaws.com\"\n| stats count(*) as calls by userIdentity.arn\n| sort calls desc\n| limit 20")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Sources, []string{"/kmswatch-dev/cloudtrail"}) || !slices.Equal(q.Commands, []string{"filter", "stats", "sort", "limit"}) {
		t.Errorf("got %+v", q)
	}
}

func TestRefusesWhatTheReferenceDoesNotAllow(t *testing.T) {
	for _, tc := range []struct{ name, query, want string }{
		{"an unknown command", "select eventName", "unknown command"},
		{"an unknown function", "filter ispresnt(errorCode)", "unknown function ispresnt()"},
		{"an aggregation outside stats", "filter count(*) > 2", "only in stats"},
		{"an aggregation in by", "stats count(*) by sum(x)", "only in stats"},
		{"stats without an aggregation", "stats eventName by bin(5m)", "without an aggregation"},
		{"two commands without a pipe", "filter a = 1 stats count(*)", "separated by |"},
		{"an unterminated string", `filter eventName = "Decrypt`, "unterminated"},
		{"an unterminated regex", "filter eventName like /Decr", "never ends"},
		{"a regex RE2 cannot read", "filter eventName like /(Decrypt/", "regex"},
		{"limit 0", "fields a | limit 0", "whole number"},
		{"limit of a field", "fields a | limit a", "whole number"},
		{"in without a list", "filter a in \"x\"", "[list]"},
		{"like a number", "filter a like 3", "string or a /regex/"},
		{"a reserved word as a field", "filter and = 1", "where a field or value belongs"},
		{"a missing parenthesis", "filter (a = 1", "a ) to close"},
		{"wrong arity", "fields substr(a)", "takes 2 to 3 arguments"},
		{"SOURCE without a name", "SOURCE logs | filter a = 1", "quoted log group name"},
		{"a dangling pipe", "filter a = 1 |", "a command"},
		{"too long", "filter a in [" + strings.Repeat(`"x",`, 2500) + `"x"]`, "at most 10000"},
	} {
		_, err := Parse(tc.query)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one that says %q", tc.name, err, tc.want)
		}
	}
}
