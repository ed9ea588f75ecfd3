package rules

import (
	"fmt"
	"strings"
)

// The metrics AWS publishes that the dashboard graphs.
//
// AWS/Usage CallCount, dimensions Class, Resource, Service, Type: "Service quota usage metrics are
// in the AWS/Usage namespace and are collected every minute"; Resource is the API operation,
// Type "API", Class "None", and KMS reports under Service "KMS"; Sum is the count per period.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Usage-Metrics.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AWS-API-Usage-Metrics.html
//
// AWS/KMS SuccessfulRequest, dimensions KeyArn and Operation: KMS's key-level API usage, "View
// the API usage for a specific KMS key, filtered by individual API operations", queried there as
// SUM(SuccessfulRequest) FROM SCHEMA("AWS/KMS", KeyArn, Operation). Successful requests only:
// refusals are in the trail (the Logs Insights widgets below).
// https://aws.amazon.com/blogs/security/aws-kms-cloudwatch-metrics-help-you-better-track-and-understand-how-your-kms-keys-are-being-used/
// https://docs.aws.amazon.com/kms/latest/developerguide/monitoring-cloudwatch.html
const (
	usageNamespace = "AWS/Usage"
	usageCallCount = "CallCount"
	kmsSuccessful  = kmsSuccessfulMetric // AWS/KMS, as the per-key rules read it (catalog_metrics.go)
	usagePeriod    = 60                  // collected every minute
)

// kmsRows: KMS calls by operation (the account's, AWS/Usage) and successful requests by key and,
// for the app key, by operation (AWS/KMS).
func kmsRows(g *grid, s DashboardStack) error {
	byOp, err := search(usageNamespace, []string{"Class", "Resource", "Service", "Type"}, usageCallCount,
		[][2]string{{"Service", "KMS"}, {"Type", "API"}}, usagePeriod)
	if err != nil {
		return err
	}
	var byKey [][]any
	for i, k := range append([]DashboardKey{s.AppKey}, s.OtherKeys...) {
		e, err := search(kmsNamespace, []string{"KeyArn", "Operation"}, kmsSuccessful, [][2]string{{"KeyArn", k.ARN}}, usagePeriod)
		if err != nil {
			return err
		}
		sum := "SUM(" + e + ")"
		if len(sum) > MaxMetricExpressionLength {
			return fmt.Errorf("dashboard: metric math of %d characters (at most %d)", len(sum), MaxMetricExpressionLength)
		}
		byKey = append(byKey, []any{renderProps{Expression: sum, Label: k.Label + " key, every operation", ID: fmt.Sprintf("k%d", i+1)}})
	}
	appByOp, err := search(kmsNamespace, []string{"KeyArn", "Operation"}, kmsSuccessful, [][2]string{{"KeyArn", s.AppKey.ARN}}, usagePeriod)
	if err != nil {
		return err
	}
	perMinute := func(title string, metrics [][]any) widget {
		return widget{Type: "metric", Properties: metricProps{Title: title, Region: s.Region, View: "timeSeries",
			Stat: "Sum", Period: usagePeriod, Metrics: metrics, YAxis: &yAxis{Left: axis{Min: 0}}}}
	}
	g.row(6,
		sized{12, perMinute("KMS calls by operation, whole account and Region (AWS/Usage CallCount)", [][]any{{renderProps{Expression: byOp, ID: "ops"}}})},
		sized{12, perMinute("Successful KMS requests by key (AWS/KMS SuccessfulRequest)", byKey)})
	g.row(6, sized{24, perMinute(s.AppKey.Label+" key: successful requests by operation (AWS/KMS SuccessfulRequest)",
		[][]any{{renderProps{Expression: appByOp, ID: "appops"}}})})
	return nil
}

// search writes SEARCH('{namespace,dims} MetricName="name" dim="value" ...', 'Sum', period): the
// metric schema, then exact matches (in double quotes, with " \ ( ) escaped).
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html
func search(namespace string, dims []string, name string, equal [][2]string, period int) (string, error) {
	terms := []string{"MetricName=" + exact(name)}
	for _, kv := range equal {
		terms = append(terms, kv[0]+"="+exact(kv[1]))
	}
	q := "{" + namespace + "," + strings.Join(dims, ",") + "} " + strings.Join(terms, " ")
	if strings.Contains(q, "'") {
		return "", fmt.Errorf("dashboard: search %q: a single quote would end the search term", q)
	}
	if len(q) > MaxSearchExpressionLength {
		return "", fmt.Errorf("dashboard: search of %d characters (at most %d)", len(q), MaxSearchExpressionLength)
	}
	return fmt.Sprintf("SEARCH('%s', 'Sum', %d)", q, period), nil
}

func exact(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `(`, `\(`, `)`, `\)`).Replace(v) + `"`
}

// trailRows are Logs Insights tables over the trail: who calls the app key, KMS errors by code
// and principal, decrypts per key. CloudTrail names the key a call used in resources (flattened
// by Insights to resources.0.ARN, ...) and, as the caller wrote it, in requestParameters.keyId;
// an assumed role's caller is the role (sessionIssuer.arn), not the session.
func trailRows(g *grid, s DashboardStack) error {
	const caller = "coalesce(userIdentity.sessionContext.sessionIssuer.arn, userIdentity.arn)"
	onKey, err := onKeyCondition(s.AppKey)
	if err != nil {
		return err
	}
	topCallers := fmt.Sprintf("filter eventSource = %s and %s\n| stats count(*) as calls, count_distinct(sourceIPAddress) as sourceAddresses by %s as caller, eventName\n| sort calls desc\n| limit 25",
		insightsString(kmsSource), onKey, caller)
	errorsBy := fmt.Sprintf("filter eventSource = %s and ispresent(errorCode)\n| stats count(*) as errors by errorCode, %s as principal\n| sort errors desc\n| limit 25",
		insightsString(kmsSource), caller)
	decrypts := fmt.Sprintf("filter eventSource = %s and eventName = \"Decrypt\"\n| stats count(*) as decrypts by coalesce(resources.0.ARN, requestParameters.keyId) as key\n| sort decrypts desc\n| limit 25",
		insightsString(kmsSource))
	var ws []widget
	for _, q := range []struct{ title, query string }{
		{"Top callers of the " + s.AppKey.Label + " key (trail)", topCallers},
		{"KMS errors by code and principal (trail)", errorsBy},
		{"Decrypts per key (trail; failed ones too)", decrypts},
	} {
		w, err := logWidget(q.title, s.Region, s.TrailLogGroup, q.query)
		if err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
		ws = append(ws, w)
	}
	g.row(8, sized{12, ws[0]}, sized{12, ws[1]})
	g.row(6, sized{24, ws[2]})
	return nil
}

// onKeyCondition is true for a call on the key: its ARN among the first resources, or the key
// named in requestParameters.keyId by ARN, id, alias name or alias ARN (see keyScope).
func onKeyCondition(k DashboardKey) (string, error) {
	p := Params{KeyARNs: []string{k.ARN}}
	if k.Alias != "" {
		p.KeyAliases = []string{k.Alias}
	}
	kf := p.keyForms()
	if len(kf.resource) == 0 || len(kf.ref) == 0 {
		return "", fmt.Errorf("dashboard: key %q gives no form to find it by", k.ARN)
	}
	var alts []string
	for i := range insightsArrayElements {
		alts = append(alts, fmt.Sprintf("resources.%d.ARN %s", i, insightsIn(kf.resource)))
	}
	alts = append(alts, "requestParameters.keyId "+insightsIn(kf.ref))
	return "(" + strings.Join(alts, " or ") + ")", nil
}

// appRows graphs the app's own counts per minute (its EMF lines): the work it did, and its failed
// decrypts by reason. Without a Service value, a SEARCH shows each Service the account has.
func appRows(g *grid, s DashboardStack) error {
	m := s.AppMetrics
	if m.Namespace == "" || len(m.Volume) == 0 {
		return nil // the app publishes no metrics of its own
	}
	series := func(names []string) ([][]any, error) {
		var out [][]any
		for i, n := range names {
			if m.Service != "" {
				out = append(out, []any{m.Namespace, n, m.Dimension, m.Service, renderProps{Label: n}})
				continue
			}
			e, err := search(m.Namespace, []string{m.Dimension}, n, nil, 60)
			if err != nil {
				return nil, err
			}
			out = append(out, []any{renderProps{Expression: e, ID: fmt.Sprintf("a%d", i+1)}})
		}
		return out, nil
	}
	volume, err := series(m.Volume)
	if err != nil {
		return err
	}
	failures, err := series(m.Failures)
	if err != nil {
		return err
	}
	perMinute := func(title string, metrics [][]any) widget {
		return widget{Type: "metric", Properties: metricProps{Title: title, Region: s.Region, View: "timeSeries",
			Stat: "Sum", Period: 60, Metrics: metrics, YAxis: &yAxis{Left: axis{Min: 0}}}}
	}
	ws := []sized{{12, perMinute("The app: encrypts stored and decrypts served ("+m.Namespace+")", volume)}}
	if len(failures) > 0 {
		ws = append(ws, sized{12, perMinute("The app: failed decrypts by reason ("+m.Namespace+")", failures)})
	}
	g.row(6, ws...)
	return nil
}
