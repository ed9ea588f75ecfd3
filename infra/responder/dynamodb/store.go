// Package dynamodb keeps the responder's records in the DynamoDB table the stack deploys: one
// item per record (its JSON whole, so the prior state is kept byte for byte) and one item that
// rate-limits containment. It uses only GetItem, PutItem and UpdateItem in the Lambda, and Scan
// in `kmswatch status`, which is what the responder's role and the CLI's user need.
package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/kmswatch/kmswatch/infra/responder"
)

// Client is the part of the DynamoDB API the store calls.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// The table's schema: a string partition key "id" and nothing else declared (DynamoDB is
// schemaless beyond the key). infra/response.go creates the table with the same key.
const (
	KeyAttribute = "id"
	attrKind     = "kind"
	attrStatus   = "status"
	attrCreated  = "created"
	attrRecord   = "record"
	attrLast     = "lastContainment"
	attrBy       = "byRecord"

	kindRecord = "record"
	// rateLimitPrefix + mode is the item that holds when the mode's last containment started.
	rateLimitPrefix = "rate-limit#containment#"
	timeLayout      = "2006-01-02T15:04:05Z" // fixed width in UTC: string order is time order
)

// Store is the record store on one table.
type Store struct {
	Client Client
	Table  string
}

// Create writes a new record; responder.ErrExists when the id is taken (a retried invocation).
func (s Store) Create(ctx context.Context, r responder.Record) error {
	item, err := recordItem(r)
	if err != nil {
		return err
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.Table, Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": KeyAttribute},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("record %s: %w", r.ID, responder.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("writing record %s to %s: %w", r.ID, s.Table, err)
	}
	return nil
}

// Put overwrites a record with its new status and results.
func (s Store) Put(ctx context.Context, r responder.Record) error {
	item, err := recordItem(r)
	if err != nil {
		return err
	}
	if _, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: item}); err != nil {
		return fmt.Errorf("updating record %s in %s: %w", r.ID, s.Table, err)
	}
	return nil
}

// Get reads one record; responder.ErrNotFound when there is none.
func (s Store) Get(ctx context.Context, id string) (responder.Record, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil {
		return responder.Record{}, fmt.Errorf("reading record %s from %s: %w", id, s.Table, err)
	}
	if len(out.Item) == 0 || stringAttr(out.Item, attrKind) != kindRecord {
		return responder.Record{}, fmt.Errorf("record %q in %s: %w", id, s.Table, responder.ErrNotFound)
	}
	return decodeRecord(out.Item)
}

// List reads every record, oldest first. The table holds one item per decision, so a scan is
// small; it reads consistently so that status shows a release made a moment ago.
func (s Store) List(ctx context.Context) ([]responder.Record, error) {
	var out []responder.Record
	var start map[string]types.AttributeValue
	for {
		page, err := s.Client.Scan(ctx, &dynamodb.ScanInput{
			TableName: &s.Table, ConsistentRead: aws.Bool(true), ExclusiveStartKey: start,
			FilterExpression:          aws.String("#kind = :record"),
			ExpressionAttributeNames:  map[string]string{"#kind": attrKind},
			ExpressionAttributeValues: map[string]types.AttributeValue{":record": &types.AttributeValueMemberS{Value: kindRecord}},
		})
		if err != nil {
			return nil, fmt.Errorf("listing records in %s: %w", s.Table, err)
		}
		for _, item := range page.Items {
			r, err := decodeRecord(item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		start = page.LastEvaluatedKey
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// LastContainment is when the mode's last containment started; zero when none has.
func (s Store) LastContainment(ctx context.Context, mode responder.Mode) (time.Time, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: rateLimitPrefix + string(mode)}},
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the rate limit from %s: %w", s.Table, err)
	}
	return parseLast(out.Item)
}

// ClaimContainment records that a containment starts at `at`, unless another started less than
// interval before: one conditional write, so two invocations at once cannot both contain, while
// a retry of the record that holds the claim gets it again. It returns whether the claim
// succeeded and, when not, when the last containment started.
func (s Store) ClaimContainment(ctx context.Context, mode responder.Mode, at time.Time, interval time.Duration, recordID string) (bool, time.Time, error) {
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.Table,
		Key:                 map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: rateLimitPrefix + string(mode)}},
		UpdateExpression:    aws.String("SET #last = :at, #by = :record"),
		ConditionExpression: aws.String("attribute_not_exists(#last) OR #last <= :cutoff OR #by = :record"),
		ExpressionAttributeNames: map[string]string{
			"#last": attrLast, "#by": attrBy,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":     &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
			":cutoff": &types.AttributeValueMemberS{Value: at.Add(-interval).UTC().Format(timeLayout)},
			":record": &types.AttributeValueMemberS{Value: recordID},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, time.Time{}, nil
	}
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		last, perr := parseLast(failed.Item)
		return false, last, perr
	}
	return false, time.Time{}, fmt.Errorf("claiming the containment rate limit in %s: %w", s.Table, err)
}

func recordItem(r responder.Record) (map[string]types.AttributeValue, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", r.ID, err)
	}
	return map[string]types.AttributeValue{
		KeyAttribute: &types.AttributeValueMemberS{Value: r.ID},
		attrKind:     &types.AttributeValueMemberS{Value: kindRecord},
		attrStatus:   &types.AttributeValueMemberS{Value: string(r.Status)},
		attrCreated:  &types.AttributeValueMemberS{Value: r.Created.UTC().Format(timeLayout)},
		attrRecord:   &types.AttributeValueMemberS{Value: string(body)},
	}, nil
}

func decodeRecord(item map[string]types.AttributeValue) (responder.Record, error) {
	var r responder.Record
	if err := json.Unmarshal([]byte(stringAttr(item, attrRecord)), &r); err != nil {
		return responder.Record{}, fmt.Errorf("record %s: not a responder record: %w", stringAttr(item, KeyAttribute), err)
	}
	return r, nil
}

func parseLast(item map[string]types.AttributeValue) (time.Time, error) {
	v := stringAttr(item, attrLast)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("rate limit item: %s %q: %w", attrLast, v, err)
	}
	return t, nil
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func isConditionFailed(err error) bool {
	var failed *types.ConditionalCheckFailedException
	return errors.As(err, &failed)
}
