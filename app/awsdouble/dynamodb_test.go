package awsdouble_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

const recordTable = "kmswatch-dev-responder"

func str(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func key(id string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"id": str(id)}
}

// mustDynamo serves a double with the record table and returns a DynamoDB client signed as the responder.
func mustDynamo(t *testing.T) (*testDouble, *dynamodb.Client) {
	t.Helper()
	d := mustStart(t, awsdouble.Options{})
	if arn := d.CreateTable(recordTable, "id"); arn != "arn:aws:dynamodb:us-east-1:111122223333:table/"+recordTable {
		t.Fatalf("CreateTable = %s", arn)
	}
	sess := mustAssumeRole(t, d, responderRole, "kmswatch-dev-responder")
	return d, dynamodb.NewFromConfig(awsdouble.ClientConfigFor(d.URL, sess.Credentials, ""))
}

func TestItemsArePutAndGotBack(t *testing.T) {
	d, db := mustDynamo(t)
	ctx := testContext(t)
	record := map[string]ddbtypes.AttributeValue{"id": str("r1"), "record": str(`{"secret":"prior document"}`),
		"n": &ddbtypes.AttributeValueMemberN{Value: "42"}, "ok": &ddbtypes.AttributeValueMemberBOOL{Value: true}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(recordTable), Item: record}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(recordTable), Key: key("r1"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if got := out.Item["record"].(*ddbtypes.AttributeValueMemberS).Value; got != `{"secret":"prior document"}` ||
		out.Item["n"].(*ddbtypes.AttributeValueMemberN).Value != "42" || !out.Item["ok"].(*ddbtypes.AttributeValueMemberBOOL).Value {
		t.Errorf("item = %#v", out.Item)
	}
	missing, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(recordTable), Key: key("r2")})
	if err != nil || missing.Item != nil {
		t.Errorf("GetItem of a missing item = %v, %v; want no item, no error", missing.Item, err)
	}
	if n := d.TableItemCount(recordTable); n != 1 {
		t.Errorf("TableItemCount = %d", n)
	}

	// The record names the table, the key's value and the item's attribute names, never other values
	// (understanding-ddb-log-entries.html, the PutItem example).
	var put trailRecord
	for _, r := range decodeRecords(t, d.Records()) {
		if r.EventName == "PutItem" {
			put = r
		}
	}
	if put.EventSource != "dynamodb.amazonaws.com" || put.EventCategory != "Data" || put.ManagementEvent == nil || *put.ManagementEvent ||
		len(put.Resources) != 1 || put.Resources[0].Type != "AWS::DynamoDB::Table" || !strings.HasSuffix(put.Resources[0].ARN, ":table/"+recordTable) {
		t.Errorf("PutItem record: %+v", put)
	}
	if want := `{"item":["id","n","ok","record"],"key":{"id":"r1"},"tableName":"` + recordTable + `"}`; string(put.RequestParameters) != want {
		t.Errorf("requestParameters = %s, want %s", put.RequestParameters, want)
	}
	for _, raw := range d.Records() {
		if strings.Contains(string(raw), "prior document") {
			t.Errorf("a non-key value reached the trail: %s", raw)
		}
	}
}

// The record store's own expressions (infra/responder/dynamodb): create once, then claim the rate limit
// unless another record holds it within the interval.
func TestConditionalWritesFailAsDynamoDBs(t *testing.T) {
	_, db := mustDynamo(t)
	ctx := testContext(t)
	create := &dynamodb.PutItemInput{TableName: aws.String(recordTable), Item: key("r1"),
		ConditionExpression: aws.String("attribute_not_exists(#id)"), ExpressionAttributeNames: map[string]string{"#id": "id"}}
	if _, err := db.PutItem(ctx, create); err != nil {
		t.Fatalf("first create: %v", err)
	}
	_, err := db.PutItem(ctx, create)
	if !isA[*ddbtypes.ConditionalCheckFailedException](err) || errorMessage(err) != "The conditional request failed" || httpStatus(err) != 400 {
		t.Fatalf("second create: %v (status %d), want ConditionalCheckFailedException", err, httpStatus(err))
	}

	claim := func(at, cutoff, record string) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(recordTable), Key: key("rate-limit#containment#contain"),
			UpdateExpression:         aws.String("SET #last = :at, #by = :record"),
			ConditionExpression:      aws.String("attribute_not_exists(#last) OR #last <= :cutoff OR #by = :record"),
			ExpressionAttributeNames: map[string]string{"#last": "lastContainment", "#by": "byRecord"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":at": str(at), ":cutoff": str(cutoff), ":record": str(record)},
			ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
		})
		return err
	}
	if err := claim("2026-11-26T10:00:00Z", "2026-11-26T09:00:00Z", "A"); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	err = claim("2026-11-26T10:20:00Z", "2026-11-26T09:20:00Z", "B")
	var failed *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		t.Fatalf("a claim within the interval: %v, want ConditionalCheckFailedException", err)
	}
	if last, ok := failed.Item["lastContainment"].(*ddbtypes.AttributeValueMemberS); !ok || last.Value != "2026-11-26T10:00:00Z" {
		t.Errorf("ALL_OLD item = %#v", failed.Item)
	}
	if err := claim("2026-11-26T10:21:00Z", "2026-11-26T09:21:00Z", "A"); err != nil {
		t.Errorf("the holder's own retry: %v", err)
	}
	if err := claim("2026-11-26T11:30:00Z", "2026-11-26T10:30:00Z", "C"); err != nil {
		t.Errorf("a claim after the interval: %v", err)
	}
}

func TestScanFiltersAndPages(t *testing.T) {
	_, db := mustDynamo(t)
	ctx := testContext(t)
	for i := range 7 {
		kind := "record"
		if i == 3 {
			kind = "rate-limit"
		}
		item := map[string]ddbtypes.AttributeValue{"id": str(fmt.Sprintf("r%d", i)), "kind": str(kind)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(recordTable), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	var start map[string]ddbtypes.AttributeValue
	pages := 0
	for {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(recordTable), Limit: aws.Int32(3), ExclusiveStartKey: start,
			FilterExpression:          aws.String("#kind = :record"),
			ExpressionAttributeNames:  map[string]string{"#kind": "kind"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":record": str("record")}})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		pages++
		for _, it := range out.Items {
			ids = append(ids, it["id"].(*ddbtypes.AttributeValueMemberS).Value)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if strings.Join(ids, ",") != "r0,r1,r2,r4,r5,r6" || pages != 3 {
		t.Errorf("scanned %v in %d pages, want every record but r3 in 3 pages of at most 3", ids, pages)
	}
}

func TestDynamoDBRefusesWhatItDoesNotModel(t *testing.T) {
	_, db := mustDynamo(t)
	ctx := testContext(t)
	put := func(in dynamodb.PutItemInput) error {
		if in.TableName == nil {
			in.TableName = aws.String(recordTable)
		}
		_, err := db.PutItem(ctx, &in)
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"an unknown table", put(dynamodb.PutItemInput{TableName: aws.String("nope"), Item: key("a")}), "Requested resource not found"},
		{"an item without the key", put(dynamodb.PutItemInput{Item: map[string]ddbtypes.AttributeValue{"x": str("a")}}), "Missing the key id in the item"},
		{"a number key", put(dynamodb.PutItemInput{Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberN{Value: "1"}}}), "Type mismatch for key id expected: S actual: N"},
		{"an unused name", put(dynamodb.PutItemInput{Item: key("a"), ConditionExpression: aws.String("attribute_not_exists(id)"),
			ExpressionAttributeNames: map[string]string{"#x": "x"}}), "unused in expressions: keys: {#x}"},
		{"an undefined value", put(dynamodb.PutItemInput{Item: key("a"), ConditionExpression: aws.String("id = :v")}), "attribute value: :v"},
		{"a syntax error", put(dynamodb.PutItemInput{Item: key("a"), ConditionExpression: aws.String("attribute_not_exists(id")}), "Syntax error"},
		{"contains", put(dynamodb.PutItemInput{Item: key("a"), ConditionExpression: aws.String("contains(id, :v)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": str("a")}}), "awsdouble does not model the function contains"},
		{"a nested path", put(dynamodb.PutItemInput{Item: key("a"), ConditionExpression: aws.String("attribute_exists(a.b)")}), "awsdouble does not model nested attribute paths"},
	} {
		if !isA[*ddbtypes.ResourceNotFoundException](tc.err) && errorCode(tc.err) != "ValidationException" || !strings.Contains(errorMessage(tc.err), tc.want) {
			t.Errorf("%s: %v, want a message with %q", tc.name, tc.err, tc.want)
		}
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(recordTable), Key: key("a"),
		UpdateExpression: aws.String("ADD n :one"), ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
	if errorCode(err) != "ValidationException" || !strings.Contains(errorMessage(err), "does not model the ADD clause") {
		t.Errorf("UpdateItem ADD: %v", err)
	}
}

// Conditions compare as DynamoDB does: strings by code point, numbers by value, a missing attribute
// compares false (for <> too: the double's choice, the guide does not say), BETWEEN is inclusive, and NOT, AND, OR and parentheses nest.
func TestConditionSemantics(t *testing.T) {
	_, db := mustDynamo(t)
	ctx := testContext(t)
	base := map[string]ddbtypes.AttributeValue{"id": str("a"), "s": str("2026-11-26T10:00:00Z"), "n": &ddbtypes.AttributeValueMemberN{Value: "10"}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(recordTable), Item: base}); err != nil {
		t.Fatal(err)
	}
	values := map[string]ddbtypes.AttributeValue{":t": str("2026-11-26T10:00:00Z"), ":nine": &ddbtypes.AttributeValueMemberN{Value: "9.5"},
		":big": &ddbtypes.AttributeValueMemberN{Value: "100"}}
	for expr, holds := range map[string]bool{
		"s = :t":                                true,
		"s <> :t":                               false,
		"n > :nine":                             true, // numerically: "10" sorts before "9.5" as text
		"n BETWEEN :nine AND :big":              true,
		"missing = :t":                          false,
		"NOT (s = :t) OR n >= :big":             false,
		"attribute_exists(s) AND n < :big":      true,
		"begins_with(s, :t) and not (n > :big)": true,
	} {
		used := map[string]ddbtypes.AttributeValue{}
		for k, v := range values {
			if strings.Contains(expr, k) {
				used[k] = v
			}
		}
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(recordTable), Item: base,
			ConditionExpression: aws.String(expr), ExpressionAttributeValues: used})
		if holds != (err == nil) || (err != nil && !isA[*ddbtypes.ConditionalCheckFailedException](err)) {
			t.Errorf("%s: err %v, want the condition to hold: %v", expr, err, holds)
		}
	}
}

// The revoke-sessions deny reaches DynamoDB too: the task role's older sessions are refused, in DynamoDB's
// error code.
func TestDynamoDBEvaluatesTheRoleDeny(t *testing.T) {
	d, _ := mustDynamo(t)
	ctx := testContext(t)
	admin := d.as(mustAssumeRole(t, d, responderRole, "admin").Credentials, "")
	revoke := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + time.Now().Add(time.Minute).UTC().Format(time.RFC3339) + `"}}}}`
	if _, err := admin.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("kmswatch-task"),
		PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revoke)}); err != nil {
		t.Fatal(err)
	}
	task := dynamodb.NewFromConfig(awsdouble.ClientConfig(d.URL))
	_, err := task.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(recordTable), Key: key("a")})
	if errorCode(err) != "AccessDeniedException" || !strings.Contains(errorMessage(err), "dynamodb:GetItem on resource: arn:aws:dynamodb:") {
		t.Errorf("GetItem by a revoked session: %v", err)
	}
	var rec struct {
		ErrorCode string `json:"errorCode"`
	}
	raw := d.Records()
	if err := json.Unmarshal(raw[len(raw)-1], &rec); err != nil || rec.ErrorCode != "AccessDeniedException" {
		t.Errorf("the refusal's record: %s", raw[len(raw)-1])
	}
}
