package dynamodb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// fakeDynamoDB answers the DynamoDB JSON 1.0 wire protocol for exactly the requests the store
// makes, so that the real SDK client (its serializers, its error mapping) is under test. An
// expression it does not know is a ValidationException, so a change to the store's expressions
// fails here instead of passing unchecked.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html
type fakeDynamoDB struct {
	mu    sync.Mutex
	table string
	items map[string]map[string]map[string]string // id -> attribute -> {"S": value}
	calls []string
}

type wireRequest struct {
	TableName                 string
	Key, Item                 map[string]map[string]string
	ConditionExpression       string
	UpdateExpression          string
	FilterExpression          string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]map[string]string
}

func newFakeDynamoDB(t *testing.T, table string) (*fakeDynamoDB, Store) {
	t.Helper()
	f := &fakeDynamoDB{table: table, items: map[string]map[string]map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := dynamodb.New(dynamodb.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
	})
	return f, Store{Client: client, Table: table}
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var req wireRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.fail(w, "SerializationException", err.Error(), nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	if req.TableName != f.table {
		f.fail(w, "ResourceNotFoundException", "Requested resource not found", nil)
		return
	}
	switch op {
	case "GetItem":
		f.reply(w, map[string]any{"Item": f.items[req.Key[KeyAttribute]["S"]]})
	case "PutItem":
		id := req.Item[KeyAttribute]["S"]
		switch req.ConditionExpression {
		case "":
		case "attribute_not_exists(#id)":
			if _, ok := f.items[id]; ok {
				f.fail(w, "ConditionalCheckFailedException", "The conditional request failed", nil)
				return
			}
		default:
			f.fail(w, "ValidationException", "fake: unknown condition "+req.ConditionExpression, nil)
			return
		}
		f.items[id] = req.Item
		f.reply(w, map[string]any{})
	case "UpdateItem":
		if req.UpdateExpression != "SET #last = :at, #by = :record" || req.ConditionExpression != "attribute_not_exists(#last) OR #last <= :cutoff OR #by = :record" {
			f.fail(w, "ValidationException", "fake: unknown expressions", nil)
			return
		}
		id := req.Key[KeyAttribute]["S"]
		item := f.items[id]
		last := req.ExpressionAttributeNames["#last"]
		by := req.ExpressionAttributeNames["#by"]
		if old, ok := item[last]; ok && old["S"] > req.ExpressionAttributeValues[":cutoff"]["S"] && item[by]["S"] != req.ExpressionAttributeValues[":record"]["S"] {
			f.fail(w, "ConditionalCheckFailedException", "The conditional request failed", item)
			return
		}
		if item == nil {
			item = map[string]map[string]string{KeyAttribute: {"S": id}}
		}
		item[last] = req.ExpressionAttributeValues[":at"]
		item[by] = req.ExpressionAttributeValues[":record"]
		f.items[id] = item
		f.reply(w, map[string]any{})
	case "Scan":
		if req.FilterExpression != "#kind = :record" {
			f.fail(w, "ValidationException", "fake: unknown filter", nil)
			return
		}
		var ids []string
		for id, item := range f.items {
			if item[req.ExpressionAttributeNames["#kind"]]["S"] == req.ExpressionAttributeValues[":record"]["S"] {
				ids = append(ids, id)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(ids))) // any order: the store sorts
		items := []any{}
		for _, id := range ids {
			items = append(items, f.items[id])
		}
		f.reply(w, map[string]any{"Items": items, "Count": len(items)})
	default:
		f.fail(w, "UnknownOperationException", "fake: "+op, nil)
	}
}

func (f *fakeDynamoDB) reply(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeDynamoDB) fail(w http.ResponseWriter, code, msg string, item any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	body := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": msg}
	if item != nil {
		body["Item"] = item
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeDynamoDB) attr(id, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.items[id][name]["S"]
}

func (f *fakeDynamoDB) String() string { return fmt.Sprint(f.calls) }
