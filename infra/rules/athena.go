package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Athena SQL (Trino dialect, Athena engine version 3) over the CloudTrail table: per rule, the
// matching records of the day folders asked for, each with its period's count, kept where the
// count reaches the rule's threshold, as the alarm counts. The two "?" are execution parameters,
// the first and last day folder ('yyyy/MM/dd'), so that partition projection reads only those days.
// https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements-querying-using-execution-parameters.html
// https://trino.io/docs/current/functions.html
//
// Same semantics as the matcher, written with functions Trino and DuckDB share (DuckDB checks
// the text, see infra/rules/duckcheck): equals and any-of are = and IN on the string column
// (LIKE for the endings of key ids and aliases of unknown account); one of several conditions is OR;
// "present" (a string or a number) is IS NOT NULL, as the SerDe gives a string column SQL NULL
// for a missing key and for JSON null; "absent" is IS NULL; a field inside resources[] holds when
// any element's does (filter + cardinality).

// ErrNotInTrail says a rule reads the app's log lines, which are in CloudWatch Logs only, not in
// the trail's bucket: it has a Logs Insights query but no Athena one.
var ErrNotInTrail = errors.New("reads the app's log group, which is not in the trail bucket: use its Logs Insights query")

// AthenaColumns are the columns every rule's query returns, in order.
var AthenaColumns = []string{
	"period_start", "period_count", "event_time", "eventid", "eventname", "errorcode", "principal",
	"sourceipaddress", "account", "region",
}

// ErrTwoLogs says a rule relates the trail with the app's log (a metric-math difference, a join
// by request id), which no one Athena or Logs Insights query over either of them can.
var ErrTwoLogs = errors.New("relates the trail with the app's log, which no single hunting query reads: replay both (kmswatch replay)")

// HasAthenaQuery reports whether the rule reads CloudTrail records, which the trail bucket holds:
// the log and EventBridge rules on the trail, and a Metrics rule whose metric counts trail records
// (its conditions say which).
func (r Rule) HasAthenaQuery() bool {
	switch r.Source {
	case TrailLogs, EventBridge:
		return true
	case Metrics:
		return len(r.when) > 0
	}
	return false
}

// AthenaQuery renders the rule as one Athena SQL statement over AthenaTable. Without a task role
// the app rules compare with RoleARNPlaceholder, which no record holds, as `kmswatch rules` shows them.
func (r Rule) AthenaQuery(p Params) (string, error) {
	if !r.HasAthenaQuery() {
		if r.Source == AppLogs {
			return "", fmt.Errorf("rule %s: %w", r.ID, ErrNotInTrail)
		}
		return "", fmt.Errorf("rule %s: %w", r.ID, ErrTwoLogs)
	}
	var where []string
	for _, c := range r.when {
		values, applies := c.queried(p)
		if !applies {
			continue
		}
		term, err := sqlCondition(c, values, p)
		if err != nil {
			return "", fmt.Errorf("rule %s: %w", r.ID, err)
		}
		where = append(where, term)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "-- kmswatch %s: %s\n", r.ID, oneLine(r.Title))
	if r.Firing.Immediate {
		b.WriteString("-- Fires at once for every matching record; this lists them, one period each.\n")
	} else {
		fmt.Fprintf(&b, "-- Fires when a %s period (UTC) holds >= %g matching records; this lists those periods' records.\n",
			shortDuration(r.Firing.Period), r.Firing.Threshold)
	}
	b.WriteString("-- Parameters: the first and the last day folder to read, 'yyyy/MM/dd'. CloudTrail delivers a file\n")
	b.WriteString("-- minutes after its events, so the last minutes of a day may sit in the next day's folder: end a day late.\n")
	b.WriteString("WITH matched AS (\n")
	b.WriteString("  SELECT from_iso8601_timestamp(eventtime) AS event_time, eventid, eventname, errorcode,\n")
	b.WriteString("    coalesce(useridentity.arn, useridentity.invokedby) AS principal, sourceipaddress, account, region\n")
	fmt.Fprintf(&b, "  FROM %s\n", AthenaTable)
	fmt.Fprintf(&b, "  WHERE %s BETWEEN ? AND ?\n", PartitionDay)
	for _, term := range where {
		fmt.Fprintf(&b, "    AND %s\n", term)
	}
	b.WriteString(")")
	if r.Firing.Immediate {
		b.WriteString("\nSELECT event_time AS period_start, 1 AS period_count, event_time, eventid, eventname, errorcode, principal,\n")
		b.WriteString("  sourceipaddress, account, region\nFROM matched\n")
	} else {
		fmt.Fprintf(&b, `, periods AS (
  SELECT *, %s AS period_start
  FROM matched
), counted AS (
  SELECT *, count(*) OVER (PARTITION BY period_start) AS period_count
  FROM periods
)
SELECT period_start, period_count, event_time, eventid, eventname, errorcode, principal, sourceipaddress, account, region
FROM counted
WHERE period_count >= %s
`, sqlPeriodStart("event_time", r.Firing.Period), sqlNumber(r.Firing.Threshold))
	}
	b.WriteString("ORDER BY event_time, eventid\n")
	return b.String(), nil
}

// queried is a condition as a hunting query states it: as deployed (rendered), but with the
// replay-only conditions kept, since a query judges the history as replay does, not as the
// CIS-verbatim metric filter must.
func (c cond) queried(p Params) ([]string, bool) {
	c.replayOnly = false
	return c.rendered(p)
}

// sqlCondition renders one condition. An op without a case here is an error, so that a new op
// cannot be rendered as something it is not.
func sqlCondition(c cond, values []string, p Params) (string, error) {
	if c.op == opAny {
		var alts []string
		for _, a := range c.alts {
			vals, applies := a.queried(p)
			if !applies {
				continue
			}
			term, err := sqlCondition(a, vals, p)
			if err != nil {
				return "", err
			}
			alts = append(alts, term)
		}
		if len(alts) == 0 {
			return "", fmt.Errorf("any-of condition: no alternative applies")
		}
		return "(" + strings.Join(alts, " OR ") + ")", nil
	}
	col, ok := resolveColumn(c.field)
	if !ok {
		json, ok := jsonField(c.field)
		if !ok {
			return "", fmt.Errorf("field %s is not a string column of the CloudTrail table", c.field)
		}
		col = columnPath{leaf: json}
	}
	var test string // the test on one value, in terms of v
	v := col.leaf
	if col.array != "" {
		v = "r." + col.leaf
	}
	switch c.op {
	case opEquals:
		ends := c.suffixes(p)
		if len(values) == 0 && len(ends) == 0 {
			return "", fmt.Errorf("field %s: equals with no value", c.field)
		}
		var either []string
		if len(values) > 0 {
			either = append(either, v+" "+sqlIn(values))
		}
		for _, e := range ends {
			either = append(either, v+" LIKE "+sqlString("%"+likeEscape(e))+` ESCAPE '\'`)
		}
		test = either[0]
		if len(either) > 1 {
			test = "(" + strings.Join(either, " OR ") + ")"
		}
	case opPresent, opAbsent:
		test = v + " IS NOT NULL"
	default:
		return "", fmt.Errorf("field %s: condition op %d has no Athena form", c.field, c.op)
	}
	if col.array == "" {
		if c.op == opAbsent {
			return v + " IS NULL", nil
		}
		return test, nil
	}
	holding := fmt.Sprintf("cardinality(filter(%s, r -> %s))", col.array, test) // elements for which it holds
	if c.op == opAbsent {
		return "coalesce(" + holding + ", 0) = 0", nil // no element has it, or no array at all
	}
	return holding + " > 0", nil
}

// jsonColumns are the table's string columns that hold a JSON object as text (the CloudTrail
// SerDe keeps requestParameters and the like as JSON strings): a field inside one is read with
// json_extract_scalar, which gives NULL where the field is missing, null or not a scalar.
// https://docs.aws.amazon.com/athena/latest/ug/cloudtrail-logs.html#query-examples-cloudtrail-logs
// https://trino.io/docs/current/functions/json.html#json_extract_scalar
var jsonColumns = map[string]string{
	"requestParameters": "requestparameters", "responseElements": "responseelements", "additionalEventData": "additionaleventdata",
}

// jsonField is the SQL that reads a dotted field inside a JSON string column, e.g.
// requestParameters.keyId -> json_extract_scalar(requestparameters, '$.keyId').
func jsonField(field string) (string, bool) {
	col, rest, ok := strings.Cut(field, ".")
	sqlCol, isJSON := jsonColumns[col]
	if !ok || !isJSON {
		return "", false
	}
	for _, key := range strings.Split(rest, ".") {
		if key == "" || strings.ContainsFunc(key, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_'
		}) {
			return "", false
		}
	}
	return fmt.Sprintf("json_extract_scalar(%s, '$.%s')", sqlCol, rest), true
}

// likeEscape escapes LIKE's wildcards (and the escape character) in a literal ending.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func sqlIn(values []string) string {
	if len(values) == 1 {
		return "= " + sqlString(values[0])
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = sqlString(v)
	}
	return "IN (" + strings.Join(quoted, ", ") + ")"
}

// sqlString quotes a string literal: SQL doubles an embedded quote.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlNumber(f float64) string { return fmt.Sprintf("%g", f) }

// goZeroToUnix is the seconds from Go's zero time (0001-01-01 UTC) to the Unix epoch. Replay's
// periods are multiples of the period since Go's zero time (time.Truncate); the SQL counts from
// the epoch, so a period that does not divide this is shifted by the remainder.
const goZeroToUnix = 62135596800

// sqlPeriodStart is the start of the period that holds the timestamp expression t, as
// time.Truncate computes it: whole seconds, minus the seconds since the last period boundary.
func sqlPeriodStart(t string, period time.Duration) string {
	p := int64(period / time.Second)
	since := fmt.Sprintf("date_diff('second', from_iso8601_timestamp('1970-01-01T00:00:00Z'), %s)", t)
	if off := goZeroToUnix % p; off != 0 {
		since = fmt.Sprintf("(%s + %d)", since, off)
	}
	return fmt.Sprintf("date_trunc('second', %s) - (%s %% %d) * INTERVAL '1' SECOND", t, since, p)
}

// oneLine keeps a title on its comment line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// DeployedParams are the Params the rule's saved hunting queries are rendered with: a rule whose
// key scope is replay-only (kms-key-disable-or-delete, whose alarm watches every key in the
// account, as CIS asks) gets no keys, so that its saved queries judge what its alarm judges.
// `kmswatch replay --key-arn` and `kmswatch rules --format` with keys still scope it.
func (r Rule) DeployedParams(p Params) Params {
	for _, c := range r.when {
		if c.replayOnly && c.op == opAny {
			p.KeyARNs, p.KeyAliases, p.KeyIDs = nil, nil, nil
		}
	}
	return p
}
