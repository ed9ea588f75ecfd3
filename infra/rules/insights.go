package rules

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// CloudWatch Logs Insights (Logs Insights QL) over the rule's log group: the trail log group for
// CloudTrail rules, the app's for app rules. Insights flattens a JSON event's nested keys into
// dotted field names and an array's elements into numbered ones (resources.0.ARN), and ispresent()
// is true for a field the event has. A threshold rule counts its matches per period with bin(),
// busiest period first, as the alarm sums them; an immediate rule lists its events.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html

// insightsArrayElements is how many elements of an array field (resources) a query looks at:
// Insights names each element's field by its index, so the query must list them. KMS records
// name one or two resources (the key, and an alias).
const insightsArrayElements = 5

// InsightsOnAppLogs reports whether the rule's Logs Insights query runs on the app's log group
// rather than the trail's.
func (r Rule) InsightsOnAppLogs() bool { return r.Source == AppLogs }

// HasInsightsQuery reports whether one Logs Insights query over one log group can judge the rule:
// every rule but those relating the trail with the app's log (ErrTwoLogs).
func (r Rule) HasInsightsQuery() bool { return r.Source != Offline && len(r.when) > 0 }

// InsightsQuery renders the rule as a Logs Insights query. Without a task role the app rules
// compare with RoleARNPlaceholder, which no event holds.
func (r Rule) InsightsQuery(p Params) (string, error) { return r.insightsQuery(p, false) }

// insightsQuery with deployed set leaves out the replay-only conditions, as the deployed filter
// and event pattern do, so that the query finds what the stack fires on.
func (r Rule) insightsQuery(p Params, deployed bool) (string, error) {
	if !r.HasInsightsQuery() {
		return "", fmt.Errorf("rule %s: %w", r.ID, ErrTwoLogs)
	}
	var terms []string
	for _, c := range r.when {
		if deployed && c.replayOnly {
			continue
		}
		values, applies := c.queried(p)
		if !applies {
			continue
		}
		term, err := r.insightsCondition(c, values, p)
		if err != nil {
			return "", fmt.Errorf("rule %s: %w", r.ID, err)
		}
		terms = append(terms, term)
	}
	if len(terms) == 0 {
		return "", fmt.Errorf("rule %s: no condition applies", r.ID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# kmswatch %s: %s\n", r.ID, oneLine(r.Title))
	if r.Firing.Immediate {
		b.WriteString("# Fires at once for every matching event: the events, newest first.\n")
	} else {
		fmt.Fprintf(&b, "# Fires when a %s period holds >= %g matching events: the periods, busiest first.\n",
			shortDuration(r.Firing.Period), r.Firing.Threshold)
	}
	if r.InsightsOnAppLogs() {
		b.WriteString("# Run it on the app's log group.\n")
	} else {
		b.WriteString("# Run it on the trail's log group.\n")
	}
	fmt.Fprintf(&b, "filter %s\n", strings.Join(terms, " and "))
	switch {
	case r.Firing.Immediate:
		b.WriteString("| fields @timestamp, eventName, errorCode, userIdentity.arn, sourceIPAddress, eventID\n")
		b.WriteString("| sort @timestamp desc\n")
	default:
		fmt.Fprintf(&b, "| stats count(*) as matches by bin(%dm)\n", r.Firing.Period/time.Minute)
		b.WriteString("| sort matches desc\n")
	}
	return b.String(), nil
}

// insightsCondition renders one condition; an op without a case here is an error.
func (r Rule) insightsCondition(c cond, values []string, p Params) (string, error) {
	if c.op == opAny {
		var alts []string
		for _, a := range c.alts {
			vals, applies := a.queried(p)
			if !applies {
				continue
			}
			term, err := r.insightsCondition(a, vals, p)
			if err != nil {
				return "", err
			}
			alts = append(alts, term)
		}
		if len(alts) == 0 {
			return "", fmt.Errorf("any-of condition: no alternative applies")
		}
		return "(" + strings.Join(alts, " or ") + ")", nil
	}
	fields := []string{c.field}
	if r.HasAthenaQuery() { // a CloudTrail record: the table's schema says where arrays are
		col, ok := resolveColumn(c.field)
		if _, inJSON := jsonField(c.field); !ok && !inJSON {
			return "", fmt.Errorf("field %s is not a string field of CloudTrail records", c.field)
		}
		if ok && col.array != "" {
			arrayKey, leafKey := splitAtArray(c.field, col)
			fields = fields[:0]
			for i := range insightsArrayElements {
				fields = append(fields, fmt.Sprintf("%s.%d.%s", arrayKey, i, leafKey))
			}
		}
	}
	var tests []string
	for _, f := range fields {
		switch c.op {
		case opEquals:
			ends := c.suffixes(p)
			if len(values) == 0 && len(ends) == 0 {
				return "", fmt.Errorf("field %s: equals with no value", c.field)
			}
			if len(values) > 0 {
				tests = append(tests, f+" "+insightsIn(values))
			}
			for _, e := range ends {
				tests = append(tests, f+" like /"+strings.ReplaceAll(regexp.QuoteMeta(e), "/", `\/`)+"$/")
			}
		case opPresent, opAbsent:
			tests = append(tests, "ispresent("+f+")")
		default:
			return "", fmt.Errorf("field %s: condition op %d has no Logs Insights form", c.field, c.op)
		}
	}
	either := tests[0]
	if len(tests) > 1 {
		either = "(" + strings.Join(tests, " or ") + ")"
	}
	if c.op == opAbsent {
		return "not " + either, nil
	}
	return either, nil
}

// splitAtArray cuts a dotted JSON path at its array: "resources.ARN" -> "resources", "ARN".
func splitAtArray(field string, col columnPath) (string, string) {
	depth := strings.Count(col.array, ".") + 1
	keys := strings.Split(field, ".")
	return strings.Join(keys[:depth], "."), strings.Join(keys[depth:], ".")
}

func insightsIn(values []string) string {
	if len(values) == 1 {
		return "= " + insightsString(values[0])
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = insightsString(v)
	}
	return "in [" + strings.Join(quoted, ", ") + "]"
}

// insightsString quotes a string operand, escaping backslashes and double quotes.
func insightsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
