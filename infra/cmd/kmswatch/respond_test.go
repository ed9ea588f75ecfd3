package main

import (
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/responder/executor"
)

const (
	testTable = "kmswatch-dev-responder"
	taskRole  = "kmswatch-task-1a2b3c4"
)

// cliIAM holds the task role's inline policies as IAM answers for them (URL-encoded documents).
type cliIAM struct{ policies map[string]string }

func (f *cliIAM) GetRolePolicy(_ context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	doc, ok := f.policies[aws.ToString(in.PolicyName)]
	if !ok || aws.ToString(in.RoleName) != taskRole {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("cannot be found")}
	}
	return &iam.GetRolePolicyOutput{PolicyDocument: aws.String(url.PathEscape(doc))}, nil
}

func (f *cliIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	f.policies[aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
	return &iam.PutRolePolicyOutput{}, nil
}

func (f *cliIAM) DeleteRolePolicy(_ context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	delete(f.policies, aws.ToString(in.PolicyName))
	return &iam.DeleteRolePolicyOutput{}, nil
}

func (f *cliIAM) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return &iam.GetRoleOutput{Role: &iamtypes.Role{RoleName: in.RoleName, MaxSessionDuration: aws.Int32(3600)}}, nil
}

type cliKMS struct{ state kmstypes.KeyState }

func (f *cliKMS) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{KeyId: in.KeyId, KeyState: f.state}}, nil
}

func (f *cliKMS) CancelKeyDeletion(context.Context, *kms.CancelKeyDeletionInput, ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error) {
	panic("status and release never cancel a deletion")
}

// cliStore keeps records as the table does, through JSON.
type cliStore struct{ records map[string][]byte }

func (s *cliStore) Create(ctx context.Context, r responder.Record) error { return s.Put(ctx, r) }
func (s *cliStore) Put(_ context.Context, r responder.Record) error {
	s.records[r.ID], _ = json.Marshal(r)
	return nil
}
func (s *cliStore) Get(_ context.Context, id string) (responder.Record, error) {
	raw, ok := s.records[id]
	if !ok {
		return responder.Record{}, responder.ErrNotFound
	}
	var r responder.Record
	err := json.Unmarshal(raw, &r)
	return r, err
}
func (s *cliStore) List(ctx context.Context) ([]responder.Record, error) {
	var ids []string
	for id := range s.records {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []responder.Record
	for _, id := range ids {
		r, _ := s.Get(ctx, id)
		out = append(out, r)
	}
	return out, nil
}
func (s *cliStore) LastContainment(context.Context, responder.Mode) (time.Time, error) {
	return time.Time{}, nil
}
func (s *cliStore) ClaimContainment(context.Context, responder.Mode, time.Time, time.Duration, string) (bool, time.Time, error) {
	return true, time.Time{}, nil
}

type cliWorld struct {
	iam   *cliIAM
	store *cliStore
}

// withWorld points release and status at fakes holding one applied containment, and returns it.
func withWorld(t *testing.T) (*cliWorld, responder.Record) {
	t.Helper()
	w := &cliWorld{iam: &cliIAM{policies: map[string]string{"task": `{"Statement":[]}`}}, store: &cliStore{records: map[string][]byte{}}}
	saved := newResponderClient
	t.Cleanup(func() { newResponderClient = saved })
	newResponderClient = func(_ context.Context, table string) (*executor.Executor, error) {
		if table != testTable {
			t.Errorf("client for table %q", table)
		}
		return &executor.Executor{IAM: w.iam, KMS: &cliKMS{state: kmstypes.KeyStateEnabled}, Store: w.store, Table: table}, nil
	}
	at := time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC)
	trigger := responder.Trigger{Kind: responder.AlarmTrigger, Alarm: responder.AlarmChange{
		AlarmARN: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:kmswatch-dev-app-decrypt-volume", AlarmName: "kmswatch-dev-app-decrypt-volume", State: "ALARM", Time: at,
	}}
	stack := responder.Stack{Mode: responder.ModeContain, TaskRoleName: taskRole, Cluster: "kmswatch-dev", Service: "app",
		ContainOnAlarms: []string{"kmswatch-dev-app-decrypt-volume"}, ContainmentInterval: time.Hour}
	rec := responder.NewRecord(responder.RecordID(trigger, at), responder.Decide(trigger, responder.State{}, stack, at), stack.Mode)
	for i := range rec.Results {
		rec.Results[i].Applied = true
	}
	rec.Finish()
	w.iam.policies[responder.RevokePolicyName] = rec.Plan.Actions[0].Document
	_ = w.store.Put(context.Background(), rec)
	return w, rec
}

func TestReleaseAndStatusUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"release without --table", []string{"release", "20261126T101500Z-0a1b2c3d"}, "--table is required: the responder's record table: the stack output responderTable"},
		{"release without an id", []string{"release", "--table", testTable}, "no RECORD_ID given"},
		{"release with two ids", []string{"release", "--table", testTable, "20261126T101500Z-0a1b2c3d", "20261126T101500Z-0a1b2c3e"}, "one RECORD_ID at a time"},
		{"release of a malformed id", []string{"release", "--table", testTable, "latest"}, `RECORD_ID "latest"`},
		{"a table name DynamoDB refuses", []string{"status", "--table", "a b"}, `--table "a b" is not a DynamoDB table name`},
		{"status with an argument", []string{"status", "--table", testTable, "x"}, `unexpected argument "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
	for _, cmd := range []string{"release", "status"} {
		if r := runCLI(cmd, "--help"); r.code != exitOK || !strings.Contains(r.stdout, "pulumi stack output responderTable") || !strings.Contains(r.stdout, "Exit status") {
			t.Errorf("%s --help: %d %q", cmd, r.code, r.stdout)
		}
	}
	if r := runCLI("--help"); !strings.Contains(r.stdout, "kmswatch release  --table NAME") || !strings.Contains(r.stdout, "kmswatch status   --table NAME") {
		t.Errorf("usage lacks release and status:\n%s", r.stdout)
	}
}

func TestStatusThenReleaseThenStatus(t *testing.T) {
	w, rec := withWorld(t)
	r := runCLI("status", "--table", testTable)
	if r.code != exitFindings || !strings.Contains(r.stdout, rec.ID+"  contained") || !strings.Contains(r.stdout, "in force: sessions of "+taskRole+" issued before 2026-11-26T10:15:00Z are denied") ||
		!strings.Contains(r.stdout, "to lift "+rec.ID+": kmswatch release --table "+testTable+" "+rec.ID) {
		t.Fatalf("status: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI("status", "--table", testTable, "--json")
	var v standingView
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &v); err != nil || !v.InForce || v.Target != "role "+taskRole || v.Record != rec.ID {
		t.Errorf("status --json %q: %+v %v", r.stdout, v, err)
	}

	r = runCLI("release", "--table", testTable, rec.ID)
	if r.code != exitOK || !strings.Contains(r.stdout, "deleted AWSRevokeOlderSessions from role "+taskRole) {
		t.Fatalf("release: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, ok := w.iam.policies[responder.RevokePolicyName]; ok || len(w.iam.policies) != 1 {
		t.Errorf("after release the role has %v", w.iam.policies)
	}
	if r = runCLI("status", "--table", testTable); r.code != exitOK || !strings.Contains(r.stdout, "Nothing is contained") {
		t.Errorf("status after release: %d %q", r.code, r.stdout)
	}
	if r = runCLI("status", "--table", testTable, "--all"); !strings.Contains(r.stdout, rec.ID+"  contain  contain   released") {
		t.Errorf("status --all:\n%s", r.stdout)
	}
	if r = runCLI("release", "--table", testTable, rec.ID); r.code != exitFindings || !strings.Contains(r.stderr, "already released") {
		t.Errorf("second release: %d %q", r.code, r.stderr)
	}
}

func TestReleaseRefusesWhatChangedUnlessForced(t *testing.T) {
	w, rec := withWorld(t)
	later := responder.RevokeDocument(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	w.iam.policies[responder.RevokePolicyName] = later // a person revoked again in the console
	r := runCLI("release", "--table", testTable, rec.ID)
	if r.code != exitFindings || !strings.Contains(r.stderr, "changed since the responder wrote it") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("release: %d %q", r.code, r.stderr)
	}
	if w.iam.policies[responder.RevokePolicyName] != later {
		t.Error("a refused release changed the policy")
	}
	if r = runCLI("status", "--table", testTable); !strings.Contains(r.stdout, "superseded") {
		t.Errorf("status: %q", r.stdout)
	}
	if r = runCLI("release", "--table", testTable, "--force", rec.ID); r.code != exitOK {
		t.Errorf("release --force: %d %q", r.code, r.stderr)
	}
	if r = runCLI("release", "--table", testTable, "20990101T000000Z-ffffffff"); r.code != exitFindings || !strings.Contains(r.stderr, "no such record") {
		t.Errorf("unknown record: %d %q", r.code, r.stderr)
	}
}
