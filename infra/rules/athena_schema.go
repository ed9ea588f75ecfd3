package rules

import "strings"

// The CloudTrail table that the Athena queries read: the columns, types and SerDe AWS documents in
// "Create the table for CloudTrail logs in Athena using partition projection", partitioned by the
// key layout CloudTrail writes (AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/).
// https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html

// AthenaTable is the table's name in its Glue database; the queries name it unqualified, and
// the stack's named queries run in that database.
const AthenaTable = "cloudtrail_logs"

// What Glue needs to read CloudTrail's files: the input format that splits each {"Records":[...]}
// file into records and the JSON SerDe AWS documents for it today.
const (
	CloudTrailInputFormat  = "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
	CloudTrailOutputFormat = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
	CloudTrailSerDe        = "org.apache.hive.hcatalog.data.JsonSerDe"
)

// The partition columns, in the order of the key layout. The day is a string in CloudTrail's
// yyyy/MM/dd folder form, so that a date projection fills it and string comparison orders it.
const (
	PartitionAccount = "account"
	PartitionRegion  = "region"
	PartitionDay     = "day"
	DayFormat        = "yyyy/MM/dd" // Java DateTimeFormatter pattern, as partition projection takes it
)

// AthenaPartitionKeys are the table's partition columns, all strings.
var AthenaPartitionKeys = []string{PartitionAccount, PartitionRegion, PartitionDay}

// ColumnType is a Hive type: string, map<string,string>, struct<...> or array<...>.
type ColumnType struct {
	Kind   TypeKind
	Fields []Column    // struct
	Elem   *ColumnType // array
}

// TypeKind is the shape of a column type.
type TypeKind int

const (
	TypeString TypeKind = iota
	TypeStringMap
	TypeStruct
	TypeArray
)

// Column is one column or struct field: its name in Athena (lower case, as AWS's DDL spells it)
// and the key CloudTrail writes in its JSON (which the Hive JSON SerDe matches without case).
type Column struct {
	Name    string
	JSONKey string
	Type    ColumnType
}

// Hive renders the type as Glue and Athena DDL write it.
func (t ColumnType) Hive() string {
	switch t.Kind {
	case TypeStringMap:
		return "map<string,string>"
	case TypeStruct:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = f.Name + ":" + f.Type.Hive()
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	case TypeArray:
		return "array<" + t.Elem.Hive() + ">"
	}
	return "string"
}

func str(jsonKey string) Column {
	return Column{Name: strings.ToLower(jsonKey), JSONKey: jsonKey, Type: ColumnType{Kind: TypeString}}
}

func object(jsonKey string, fields ...Column) Column {
	return Column{Name: strings.ToLower(jsonKey), JSONKey: jsonKey, Type: ColumnType{Kind: TypeStruct, Fields: fields}}
}

// CloudTrailColumns are the table's data columns in AWS's order. requestParameters,
// responseElements, additionalEventData, serviceEventDetails and edgeDeviceDetails are JSON
// objects in the files and strings (the object's JSON text) in the table.
var CloudTrailColumns = []Column{
	str("eventVersion"),
	object("userIdentity",
		str("type"), str("principalId"), str("arn"), str("accountId"), str("invokedBy"), str("accessKeyId"), str("userName"),
		object("onBehalfOf", str("userId"), str("identityStoreArn")),
		object("sessionContext",
			object("attributes", str("mfaAuthenticated"), str("creationDate")),
			object("sessionIssuer", str("type"), str("principalId"), str("arn"), str("accountId"), str("userName")),
			str("ec2RoleDelivery"),
			object("webIdFederationData", str("federatedProvider"),
				Column{Name: "attributes", JSONKey: "attributes", Type: ColumnType{Kind: TypeStringMap}}),
		),
	),
	str("eventTime"), str("eventSource"), str("eventName"), str("awsRegion"), str("sourceIPAddress"), str("userAgent"),
	str("errorCode"), str("errorMessage"),
	str("requestParameters"), str("responseElements"), str("additionalEventData"),
	str("requestID"), str("eventID"), str("readOnly"),
	{Name: "resources", JSONKey: "resources", Type: ColumnType{Kind: TypeArray, Elem: &ColumnType{Kind: TypeStruct, Fields: []Column{
		{Name: "arn", JSONKey: "ARN", Type: ColumnType{Kind: TypeString}}, str("accountId"), str("type"),
	}}}},
	str("eventType"), str("apiVersion"), str("recipientAccountId"), str("serviceEventDetails"), str("sharedEventID"),
	str("vpcEndpointId"), str("vpcEndpointAccountId"), str("eventCategory"),
	object("addendum", str("reason"), str("updatedFields"), str("originalRequestID"), str("originalEventID")),
	str("sessionCredentialFromConsole"), str("edgeDeviceDetails"),
	object("tlsDetails", str("tlsVersion"), str("cipherSuite"), str("clientProvidedHostHeader")),
}

// columnPath is a record field (a dotted JSON path, as conditions name them) resolved against the
// table: the SQL path of the array column it passes through (if any) and the path below it.
type columnPath struct {
	array string // e.g. "resources"; "" when no array is on the way
	leaf  string // the string column, or the field of the array's element
}

// resolveColumn finds a condition's field in the table. Only string leaves can be compared; at
// most one array may be on the way (CloudTrail's schema has no nested arrays).
func resolveColumn(field string) (columnPath, bool) {
	cols := CloudTrailColumns
	var sqlPath []string
	var out columnPath
	keys := strings.Split(field, ".")
	for i, key := range keys {
		var col *Column
		for j := range cols {
			if cols[j].JSONKey == key {
				col = &cols[j]
				break
			}
		}
		if col == nil {
			return columnPath{}, false
		}
		sqlPath = append(sqlPath, col.Name)
		last := i == len(keys)-1
		switch col.Type.Kind {
		case TypeString:
			if !last {
				return columnPath{}, false
			}
			out.leaf = strings.Join(sqlPath, ".")
			return out, true
		case TypeStruct:
			cols = col.Type.Fields
		case TypeArray:
			if out.array != "" || col.Type.Elem.Kind != TypeStruct {
				return columnPath{}, false
			}
			out.array, sqlPath = strings.Join(sqlPath, "."), nil
			cols = col.Type.Elem.Fields
		default:
			return columnPath{}, false
		}
	}
	return columnPath{}, false
}
