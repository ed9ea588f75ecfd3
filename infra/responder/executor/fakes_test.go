package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/kmswatch/kmswatch/infra/responder"
)

// fakeIAM holds inline role policies and answers as IAM does: GetRolePolicy returns the document
// URL-encoded, and NoSuchEntity for a policy the role lacks.
type fakeIAM struct {
	policies map[string]map[string]string // role -> policy name -> document
	writes   []string                     // "put role name" / "delete role name"
	fail     error                        // every write fails with it
}

func newFakeIAM(roles ...string) *fakeIAM {
	f := &fakeIAM{policies: map[string]map[string]string{}}
	for _, r := range roles {
		f.policies[r] = map[string]string{"task": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:eu-west-1:123456789012:key/app"}]}`}
	}
	return f
}

func (f *fakeIAM) snapshot() map[string]map[string]string {
	out := map[string]map[string]string{}
	for r, p := range f.policies {
		out[r] = maps.Clone(p)
	}
	return out
}

// GetRole gives IAM's default maximum session duration, one hour.
func (f *fakeIAM) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return &iam.GetRoleOutput{Role: &iamtypes.Role{RoleName: in.RoleName, MaxSessionDuration: aws.Int32(3600)}}, nil
}

func (f *fakeIAM) GetRolePolicy(_ context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	doc, ok := f.policies[aws.ToString(in.RoleName)][aws.ToString(in.PolicyName)]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("The role policy with name " + aws.ToString(in.PolicyName) + " cannot be found.")}
	}
	return &iam.GetRolePolicyOutput{RoleName: in.RoleName, PolicyName: in.PolicyName, PolicyDocument: aws.String(url.PathEscape(doc))}, nil
}

func (f *fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	role := aws.ToString(in.RoleName)
	if f.policies[role] == nil {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("The role with name " + role + " cannot be found.")}
	}
	f.writes = append(f.writes, "put "+role+" "+aws.ToString(in.PolicyName))
	f.policies[role][aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
	return &iam.PutRolePolicyOutput{}, nil
}

func (f *fakeIAM) DeleteRolePolicy(_ context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	role, name := aws.ToString(in.RoleName), aws.ToString(in.PolicyName)
	if _, ok := f.policies[role][name]; !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("no such policy")}
	}
	f.writes = append(f.writes, "delete "+role+" "+name)
	delete(f.policies[role], name)
	return &iam.DeleteRolePolicyOutput{}, nil
}

type fakeECS struct {
	deployments []string // "cluster/service"
	fail        error
}

func (f *fakeECS) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	if !in.ForceNewDeployment {
		return nil, fmt.Errorf("UpdateService without forceNewDeployment")
	}
	f.deployments = append(f.deployments, aws.ToString(in.Cluster)+"/"+aws.ToString(in.Service))
	return &ecs.UpdateServiceOutput{}, nil
}

// fakeKMS keeps key states; CancelKeyDeletion leaves the key Disabled, as KMS documents.
type fakeKMS struct {
	states map[string]kmstypes.KeyState
	calls  []string // "Op keyId"
}

func (f *fakeKMS) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	f.calls = append(f.calls, "DescribeKey "+aws.ToString(in.KeyId))
	st, ok := f.states[aws.ToString(in.KeyId)]
	if !ok {
		return nil, &kmstypes.NotFoundException{Message: aws.String("Key '" + aws.ToString(in.KeyId) + "' does not exist")}
	}
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{KeyId: in.KeyId, KeyState: st}}, nil
}

func (f *fakeKMS) CancelKeyDeletion(_ context.Context, in *kms.CancelKeyDeletionInput, _ ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error) {
	key := aws.ToString(in.KeyId)
	f.calls = append(f.calls, "CancelKeyDeletion "+key)
	if f.states[key] != kmstypes.KeyStatePendingDeletion {
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String(key + " is not pending deletion")}
	}
	f.states[key] = kmstypes.KeyStateDisabled
	return &kms.CancelKeyDeletionOutput{KeyId: in.KeyId}, nil
}

type fakeSNS struct {
	published []sns.PublishInput
	fail      error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.published = append(f.published, *in)
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

// memStore is the record store in memory, with the DynamoDB store's semantics (records pass
// through JSON, as they do through the table).
type memStore struct {
	mu      sync.Mutex
	records map[string][]byte
	last    map[responder.Mode]time.Time
	holder  map[responder.Mode]string
}

func newMemStore() *memStore {
	return &memStore{records: map[string][]byte{}, last: map[responder.Mode]time.Time{}, holder: map[responder.Mode]string{}}
}

func (s *memStore) Create(_ context.Context, r responder.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[r.ID]; ok {
		return responder.ErrExists
	}
	s.records[r.ID], _ = json.Marshal(r)
	return nil
}

func (s *memStore) Put(_ context.Context, r responder.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[r.ID], _ = json.Marshal(r)
	return nil
}

func (s *memStore) Get(_ context.Context, id string) (responder.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.records[id]
	if !ok {
		return responder.Record{}, responder.ErrNotFound
	}
	var r responder.Record
	err := json.Unmarshal(raw, &r)
	return r, err
}

func (s *memStore) List(ctx context.Context) ([]responder.Record, error) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.records))
	for id := range s.records {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	var out []responder.Record
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *memStore) LastContainment(_ context.Context, mode responder.Mode) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[mode], nil
}

func (s *memStore) ClaimContainment(_ context.Context, mode responder.Mode, at time.Time, interval time.Duration, id string) (bool, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := s.last[mode]; !last.IsZero() && last.After(at.Add(-interval)) && s.holder[mode] != id {
		return false, last, nil
	}
	s.last[mode], s.holder[mode] = at, id
	return true, time.Time{}, nil
}

func (s *memStore) mustGet(t *testing.T, id string) responder.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	return r
}
