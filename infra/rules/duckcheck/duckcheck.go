// Package duckcheck runs the rules' Athena SQL on an engine that shares no code with replay:
// DuckDB, over a CloudTrail corpus laid out as CloudTrail writes to S3, loaded under the Athena
// table's name, columns and types. It is its own package so that only it links DuckDB (cgo).
package duckcheck

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
	"github.com/kmswatch/kmswatch/infra/rules"
)

// Shim is a Trino function the generated SQL uses that DuckDB lacks (or spells otherwise),
// defined as a DuckDB macro for the session. Each is a place where the check trusts the shim's
// reading of Trino's documentation rather than Trino itself.
type Shim struct {
	Function string
	TrinoDoc string
	Macro    string
}

// Shims are every macro the session defines. Everything else in the SQL (date_diff, date_trunc,
// INTERVAL arithmetic, filter with a lambda, count(*) OVER, coalesce, IN, BETWEEN, ?-parameters)
// is read by DuckDB as written.
var Shims = []Shim{
	{
		Function: "from_iso8601_timestamp(string) -> timestamp(3) with time zone",
		TrinoDoc: "https://trino.io/docs/current/functions/datetime.html#from_iso8601_timestamp",
		Macro:    "CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
	},
	{
		// DuckDB's own cardinality() takes only maps; Trino's takes arrays.
		Function: "cardinality(array) -> bigint",
		TrinoDoc: "https://trino.io/docs/current/functions/array.html#cardinality",
		Macro:    "CREATE MACRO cardinality(a) AS len(a)",
	},
	{
		// Trino's returns NULL where the path is an object or array; DuckDB's json_extract_string
		// returns its JSON text, which no key id, alias or ARN the rules compare with equals. The
		// key scope reads requestParameters, a JSON string column, this way.
		Function: "json_extract_scalar(json, json_path) -> varchar",
		TrinoDoc: "https://trino.io/docs/current/functions/json.html#json_extract_scalar",
		Macro:    "CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
	},
}

// Open loads the {"Records":[...]} files under dir/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/
// into an in-memory DuckDB table named rules.AthenaTable, with the table's columns (struct fields
// included) in Athena's lower-case names and the partition columns taken from each file's key.
func Open(ctx context.Context, dir string) (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one session: its time zone and macros hold for every query
	setup := []string{"SET TimeZone = 'UTC'"}
	for _, s := range Shims {
		setup = append(setup, s.Macro)
	}
	setup = append(setup, loadStatement(dir))
	for _, stmt := range setup {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb: %s: %w", firstLine(stmt), err)
		}
	}
	return db, nil
}

// loadStatement reads each file's Records with CloudTrail's JSON keys (DuckDB matches keys by
// case, the Hive SerDe does not) and casts each column to the table's lower-case type. JSON
// objects read into a string column keep their JSON text, as the table's requestparameters does.
func loadStatement(dir string) string {
	glob := filepath.ToSlash(filepath.Join(dir, "AWSLogs", "*", "CloudTrail", "*", "*", "*", "*", "*.json.gz"))
	var read, cols []string
	for _, c := range rules.CloudTrailColumns {
		read = append(read, quoteIdent(c.JSONKey)+" "+duckType(c.Type, true))
		if c.Type.Kind == rules.TypeString {
			cols = append(cols, fmt.Sprintf("rec.%s AS %s", quoteIdent(c.JSONKey), c.Name))
		} else {
			cols = append(cols, fmt.Sprintf("CAST(rec.%s AS %s) AS %s", quoteIdent(c.JSONKey), duckType(c.Type, false), c.Name))
		}
	}
	key := `'/AWSLogs/([0-9]{12})/CloudTrail/([a-z0-9-]+)/([0-9]{4}/[0-9]{2}/[0-9]{2})/[^/]+$'`
	for i, name := range rules.AthenaPartitionKeys {
		cols = append(cols, fmt.Sprintf("regexp_extract(filename, %s, %d) AS %s", key, i+1, name))
	}
	return fmt.Sprintf(`CREATE TABLE %s AS
SELECT %s
FROM (
  SELECT filename, unnest(Records) AS rec
  FROM read_json(%s, columns = {Records: %s}, filename = true, format = 'unstructured', maximum_object_size = 268435456)
)`, rules.AthenaTable, strings.Join(cols, ",\n  "), sqlString(glob), sqlString("STRUCT("+strings.Join(read, ", ")+")[]"))
}

// duckType spells a Hive column type in DuckDB, with CloudTrail's JSON keys (to read) or the
// table's names (to expose).
func duckType(t rules.ColumnType, jsonKeys bool) string {
	switch t.Kind {
	case rules.TypeStringMap:
		return "MAP(VARCHAR, VARCHAR)"
	case rules.TypeStruct:
		fields := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			name := f.Name
			if jsonKeys {
				name = f.JSONKey
			}
			fields[i] = quoteIdent(name) + " " + duckType(f.Type, jsonKeys)
		}
		return "STRUCT(" + strings.Join(fields, ", ") + ")"
	case rules.TypeArray:
		return duckType(*t.Elem, jsonKeys) + "[]"
	}
	return "VARCHAR"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
