package awsdouble

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
)

// DynamoDB GetItem, PutItem, UpdateItem and Scan on tables with a string partition key (JSON 1.0), after
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html , API_PutItem.html,
// API_UpdateItem.html and API_Scan.html: enough for the responder's record store, with conditions evaluated
// (dynamodb_expr.go), so that a conditional write that should fail does. Records are data events in the
// shape of https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/understanding-ddb-log-entries.html
// (the PutItem and UpdateItem examples): the key's values and the names of the item's attributes, never
// other values.

type dynamoTable struct {
	name, arn, key string

	mu    sync.Mutex
	items map[string]item // by the partition key's value
}

// CreateTable makes a table whose partition key is the string attribute keyAttribute, and returns its ARN;
// creating it again returns the same table.
func (s *Server) CreateTable(name, keyAttribute string) string {
	s.dynamoMu.Lock()
	defer s.dynamoMu.Unlock()
	if t, ok := s.tables[name]; ok {
		return t.arn
	}
	t := &dynamoTable{name: name, key: keyAttribute, items: map[string]item{},
		arn: "arn:aws:dynamodb:" + s.opts.Region + ":" + s.opts.AccountID + ":table/" + name}
	s.tables[name] = t
	return t.arn
}

// TableItemCount is how many items the table holds; -1 when there is no such table.
func (s *Server) TableItemCount(name string) int {
	t := s.table(name)
	if t == nil {
		return -1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.items)
}

func (s *Server) table(name string) *dynamoTable {
	s.dynamoMu.Lock()
	defer s.dynamoMu.Unlock()
	return s.tables[name]
}

type dynamoRequest struct {
	TableName                           string
	Key                                 item
	Item                                item
	ConditionExpression                 string
	UpdateExpression                    string
	FilterExpression                    string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]attrValue
	ConsistentRead                      *bool
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	ExclusiveStartKey                   item
	Limit                               *int
}

// dynamoCall reads the request, resolves and authorizes its table, and fills the record's parameters.
func (s *Server) dynamoCall(body []byte, ev *event, action string) (*dynamoTable, *dynamoRequest, *apiError) {
	var req dynamoRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.As(err, new(attrValueError)) {
			return nil, nil, validation(err.Error())
		}
		return nil, nil, validation("awsdouble models " + action + "'s TableName, Key, Item, expressions, ConsistentRead, ReturnValuesOnConditionCheckFailure, ExclusiveStartKey and Limit only: " + err.Error())
	}
	t := s.table(req.TableName)
	ev.params = dynamoParams(&req, t)
	switch {
	case req.TableName == "":
		return nil, nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	case t == nil:
		return nil, nil, &apiError{"ResourceNotFoundException", "Requested resource not found"}
	case req.ReturnValues != "" && req.ReturnValues != "NONE":
		return nil, nil, validation("awsdouble models ReturnValues NONE only")
	case req.ReturnValuesOnConditionCheckFailure != "" && req.ReturnValuesOnConditionCheckFailure != "NONE" && req.ReturnValuesOnConditionCheckFailure != "ALL_OLD":
		return nil, nil, validation("1 validation error detected: Value '" + req.ReturnValuesOnConditionCheckFailure + "' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]")
	}
	ev.resourceARN, ev.resourceTy = t.arn, "AWS::DynamoDB::Table"
	if aerr := s.authorize(ev, action, t.arn, ""); aerr != nil {
		return nil, nil, aerr
	}
	return t, &req, nil
}

// keyOf checks that key is exactly the table's string partition key and returns its value.
func (t *dynamoTable) keyOf(key item, member string) (string, *apiError) {
	v, ok := key[t.key]
	if !ok || (member == "key" && len(key) != 1) {
		if member == "item" {
			return "", validation("One or more parameter values were invalid: Missing the key " + t.key + " in the item")
		}
		return "", validation("The provided key element does not match the schema")
	}
	var s string
	if v.typ != "S" || json.Unmarshal(v.raw, &s) != nil {
		return "", validation("One or more parameter values were invalid: Type mismatch for key " + t.key + " expected: S actual: " + v.typ)
	}
	if s == "" {
		return "", validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: " + t.key)
	}
	return s, nil
}

// requestCondition compiles the request's condition expression; nil when it has none.
func requestCondition(req *dynamoRequest, ctx *exprContext) (itemCondition, *apiError) {
	if req.ConditionExpression == "" {
		return nil, nil
	}
	return compileItemCondition("ConditionExpression", req.ConditionExpression, ctx)
}

// checkCondition evaluates cond on the current item: a failed condition is ConditionalCheckFailedException,
// its body carrying the item when the request asked for ALL_OLD.
func checkCondition(cond itemCondition, req *dynamoRequest, ev *event, current item) *apiError {
	if cond == nil || cond(current) {
		return nil
	}
	if req.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && current != nil {
		ev.errorExtra, _ = json.Marshal(current)
		ev.errorExtra = append([]byte(`"Item":`), ev.errorExtra...)
	}
	return &apiError{"ConditionalCheckFailedException", "The conditional request failed"}
}

func (s *Server) getItem(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	t, req, aerr := s.dynamoCall(body, ev, "GetItem")
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := t.keyOf(req.Key, "key")
	if aerr != nil {
		return nil, aerr
	}
	t.mu.Lock()
	it := t.items[id]
	t.mu.Unlock()
	if it == nil {
		return append(out, "{}"...), nil
	}
	resp, _ := json.Marshal(map[string]item{"Item": it})
	return append(out, resp...), nil
}

func (s *Server) putItem(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	t, req, aerr := s.dynamoCall(body, ev, "PutItem")
	if aerr != nil {
		return nil, aerr
	}
	if req.Item == nil {
		return nil, validation("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	id, aerr := t.keyOf(req.Item, "item")
	if aerr != nil {
		return nil, aerr
	}
	ctx := newExprContext(req.ExpressionAttributeNames, req.ExpressionAttributeValues)
	cond, aerr := requestCondition(req, ctx)
	if aerr == nil {
		aerr = ctx.unused()
	}
	if aerr != nil {
		return nil, aerr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if aerr := checkCondition(cond, req, ev, t.items[id]); aerr != nil {
		return nil, aerr
	}
	t.items[id] = req.Item
	return append(out, "{}"...), nil
}

func (s *Server) updateItem(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	t, req, aerr := s.dynamoCall(body, ev, "UpdateItem")
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := t.keyOf(req.Key, "key")
	if aerr != nil {
		return nil, aerr
	}
	if req.UpdateExpression == "" {
		return nil, validation("awsdouble models UpdateItem with an UpdateExpression only")
	}
	ctx := newExprContext(req.ExpressionAttributeNames, req.ExpressionAttributeValues)
	u, aerr := compileItemUpdate(req.UpdateExpression, ctx)
	if aerr != nil {
		return nil, aerr
	}
	for _, set := range u.set {
		if set.attr == t.key {
			return nil, validation("One or more parameter values were invalid: Cannot itemUpdate attribute " + t.key + ". This attribute is part of the key")
		}
	}
	cond, aerr := requestCondition(req, ctx)
	if aerr == nil {
		aerr = ctx.unused()
	}
	if aerr != nil {
		return nil, aerr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	current := t.items[id]
	if aerr := checkCondition(cond, req, ev, current); aerr != nil {
		return nil, aerr
	}
	next := u.apply(current)
	next[t.key] = req.Key[t.key] // UpdateItem creates the item when there is none
	t.items[id] = next
	return append(out, "{}"...), nil
}

// scan returns the items in key order (DynamoDB's order is its own; callers must not rely on it), at most
// Limit evaluated per page, with LastEvaluatedKey while more remain.
func (s *Server) scan(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	t, req, aerr := s.dynamoCall(body, ev, "Scan")
	if aerr != nil {
		return nil, aerr
	}
	ctx := newExprContext(req.ExpressionAttributeNames, req.ExpressionAttributeValues)
	keep := func(item) bool { return true }
	if req.FilterExpression != "" {
		cond, aerr := compileItemCondition("FilterExpression", req.FilterExpression, ctx)
		if aerr != nil {
			return nil, aerr
		}
		keep = cond
	}
	if aerr := ctx.unused(); aerr != nil {
		return nil, aerr
	}
	after := ""
	if req.ExclusiveStartKey != nil {
		if after, aerr = t.keyOf(req.ExclusiveStartKey, "key"); aerr != nil {
			return nil, aerr
		}
	}
	if req.Limit != nil && *req.Limit < 1 {
		return nil, validation("1 validation error detected: Value '" + strconv.Itoa(*req.Limit) + "' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.items))
	for id := range t.items {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	page := struct {
		Items            []item `json:"Items"`
		Count            int    `json:"Count"`
		ScannedCount     int    `json:"ScannedCount"`
		LastEvaluatedKey item   `json:"LastEvaluatedKey,omitempty"`
	}{Items: []item{}}
	for i, id := range ids {
		if req.Limit != nil && i == *req.Limit {
			page.LastEvaluatedKey = item{t.key: t.items[ids[i-1]][t.key]}
			break
		}
		page.ScannedCount++
		if keep(t.items[id]) {
			page.Items = append(page.Items, t.items[id])
		}
	}
	page.Count = len(page.Items)
	resp, _ := json.Marshal(page)
	return append(out, resp...), nil
}

// dynamoParams is requestParameters as CloudTrail logs DynamoDB data events: the table, the key's values,
// the item's attribute names, and the expressions with their names (values stay out of the trail).
func dynamoParams(req *dynamoRequest, t *dynamoTable) []byte {
	params := map[string]any{"tableName": req.TableName}
	if req.Key != nil {
		key := map[string]json.RawMessage{}
		for name, v := range req.Key {
			key[name] = v.plain()
		}
		params["key"] = key
	}
	if req.Item != nil {
		names := make([]string, 0, len(req.Item))
		for name := range req.Item {
			names = append(names, name)
		}
		slices.Sort(names)
		if t != nil {
			if v, ok := req.Item[t.key]; ok {
				params["key"] = map[string]json.RawMessage{t.key: v.plain()}
			}
		}
		params["item"] = names
	}
	for name, v := range map[string]string{"conditionExpression": req.ConditionExpression,
		"updateExpression": req.UpdateExpression, "filterExpression": req.FilterExpression,
		"returnValuesOnConditionCheckFailure": req.ReturnValuesOnConditionCheckFailure} {
		if v != "" {
			params[name] = v
		}
	}
	if len(req.ExpressionAttributeNames) > 0 {
		params["expressionAttributeNames"] = req.ExpressionAttributeNames
	}
	if req.ConsistentRead != nil {
		params["consistentRead"] = *req.ConsistentRead
	}
	b, _ := json.Marshal(params) // strings, raw JSON values and bools only
	return b
}
