// Package executor applies the responder's plans through the AWS clients: it observes the state
// a decision needs, applies each action (after checking it against the stack), writes the record
// before and after, and announces on the alert topic. Release and Status serve `kmswatch release`
// and `kmswatch status`. The clients are the narrow interfaces below, which the aws-sdk-go-v2
// clients satisfy; tests give fakes.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/kmswatch/kmswatch/infra/responder"
)

// IAM is what the responder calls on the task role: its one inline policy.
type IAM interface {
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, opts ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, opts ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, opts ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	// GetRole gives release the role's maximum session duration.
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// ECS forces the new deployment.
type ECS interface {
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, opts ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// KMS reads the app key's state and cancels its deletion.
type KMS interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	CancelKeyDeletion(ctx context.Context, in *kms.CancelKeyDeletionInput, opts ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error)
}

// SNS publishes the announcement.
type SNS interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Store keeps the records (package dynamodb implements it). The rate limit is kept per mode,
// so that a dry run never holds back a real containment.
type Store interface {
	Create(ctx context.Context, r responder.Record) error // responder.ErrExists when the id is taken
	Put(ctx context.Context, r responder.Record) error
	Get(ctx context.Context, id string) (responder.Record, error) // responder.ErrNotFound
	List(ctx context.Context) ([]responder.Record, error)
	LastContainment(ctx context.Context, mode responder.Mode) (time.Time, error)
	// ClaimContainment succeeds when no containment (other than recordID's own) started less
	// than interval before at; otherwise it returns when the last one started.
	ClaimContainment(ctx context.Context, mode responder.Mode, at time.Time, interval time.Duration, recordID string) (bool, time.Time, error)
}

// Executor carries the clients and the stack. The Lambda sets every field; release and status
// need only IAM, KMS (status) and Store.
type Executor struct {
	Stack    responder.Stack
	IAM      IAM
	ECS      ECS
	KMS      KMS
	SNS      SNS
	Store    Store
	TopicARN string
	Table    string // the record table's name, for the commands in messages
	Now      func() time.Time
	Log      *slog.Logger
}

func (e *Executor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Executor) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// Handle is one invocation: parse, observe, decide, record, apply, record, announce. It returns
// an error when the payload is unreadable or a call failed, so that Lambda retries (a retry
// finds the record by its id and applies only what is not applied yet).
func (e *Executor) Handle(ctx context.Context, payload []byte) (responder.Record, error) {
	trigger, err := responder.ParseTrigger(payload)
	if err != nil {
		return responder.Record{}, err
	}
	now := e.now()
	state, err := e.observe(ctx, trigger)
	if err != nil {
		return responder.Record{}, err
	}
	plan := responder.Decide(trigger, state, e.Stack, now)
	log := e.log().With("decision", plan.Decision, "trigger", trigger.Source(), "dry_run", plan.DryRun)
	if !plan.Recorded() {
		log.Info("nothing to do", "why", plan.Why)
		return responder.Record{Plan: plan}, nil
	}
	rec := responder.NewRecord(responder.RecordID(trigger, now), plan, e.Stack.Mode)
	log = log.With("record", rec.ID)

	// Written first, with the prior state in its undo: what is needed to undo is kept before
	// anything changes.
	if err := e.Store.Create(ctx, rec); errors.Is(err, responder.ErrExists) {
		if rec, err = e.Store.Get(ctx, rec.ID); err != nil {
			return responder.Record{}, err
		}
		if !rec.Resumable() {
			log.Info("already handled", "status", rec.Status)
			return rec, e.announce(ctx, &rec)
		}
		log.Info("resuming", "status", rec.Status)
		if rec.Status == responder.StatusFailed {
			rec.Announced = false // the failure was announced; announce how the retry ends
		}
	} else if err != nil {
		return responder.Record{}, err
	}

	if rec.Plan.Decision == responder.DecideContain {
		ok, last, err := e.Store.ClaimContainment(ctx, e.Stack.Mode, rec.Plan.At, e.Stack.ContainmentInterval, rec.ID)
		if err != nil {
			return rec, err
		}
		if !ok { // another invocation contained since we looked
			state.LastContainment = last
			rec = responder.NewRecord(rec.ID, responder.Decide(trigger, state, e.Stack, now), e.Stack.Mode)
			log.Info("rate-limited by a concurrent containment", "last", last)
		}
	}

	applyErr := e.apply(ctx, &rec)
	rec.Finish()
	if err := e.Store.Put(ctx, rec); err != nil {
		return rec, errors.Join(applyErr, err)
	}
	log.Info("recorded", "status", rec.Status, "why", rec.Plan.Why)
	return rec, errors.Join(applyErr, e.announce(ctx, &rec))
}

// observe reads only what the trigger's decision depends on.
func (e *Executor) observe(ctx context.Context, t responder.Trigger) (responder.State, error) {
	var st responder.State
	switch {
	case t.Kind == responder.AlarmTrigger && t.Alarm.State == "ALARM" && containsOn(e.Stack, t.Alarm.AlarmName):
		doc, has, err := RevokePolicy(ctx, e.IAM, e.Stack.TaskRoleName)
		if err != nil {
			return st, err
		}
		st.RevokePolicy, st.HasRevokePolicy = doc, has
		if st.LastContainment, err = e.Store.LastContainment(ctx, e.Stack.Mode); err != nil {
			return st, err
		}
	case e.Stack.ConcernsAppKey(t):
		out, err := e.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(e.Stack.AppKeyARN)})
		if err != nil {
			return st, fmt.Errorf("reading the app key's state: %w", err)
		}
		st.AppKeyState = string(out.KeyMetadata.KeyState)
	}
	return st, nil
}

func containsOn(s responder.Stack, alarm string) bool {
	for _, a := range s.ContainOnAlarms {
		if a == alarm {
			return true
		}
	}
	return false
}

// RevokePolicy reads the role's AWSRevokeOlderSessions document, URL-decoded; has is false when
// the role has no such policy (IAM's NoSuchEntity).
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
func RevokePolicy(ctx context.Context, client IAM, role string) (doc string, has bool, err error) {
	out, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(responder.RevokePolicyName)})
	var missing *iamtypes.NoSuchEntityException
	if errors.As(err, &missing) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading %s of role %s: %w", responder.RevokePolicyName, role, err)
	}
	doc, err = responder.DecodePolicyDocument(aws.ToString(out.PolicyDocument))
	if err != nil {
		return "", false, fmt.Errorf("%s of role %s: %w", responder.RevokePolicyName, role, err)
	}
	return doc, true, nil
}

// apply performs the actions not yet applied, in order, and stops at the first failure: a
// redeploy without the revocation would hand the stolen credentials' holder nothing but would
// hide that the revocation failed. A dry run applies nothing.
func (e *Executor) apply(ctx context.Context, rec *responder.Record) error {
	if rec.Plan.DryRun {
		return nil
	}
	for i, a := range rec.Plan.Actions {
		if rec.Results[i].Applied {
			continue
		}
		err := e.Stack.Permits(a)
		if err == nil {
			err = e.call(ctx, a)
		}
		if err != nil {
			rec.Results[i] = responder.ActionResult{Error: err.Error()}
			_ = e.Store.Put(ctx, *rec) // best effort: the final Put records it too
			return fmt.Errorf("record %s, %s: %w", rec.ID, a.Kind, err)
		}
		rec.Results[i] = responder.ActionResult{Applied: true, AppliedAt: e.now().UTC()}
		if err := e.Store.Put(ctx, *rec); err != nil {
			return err
		}
	}
	return nil
}

func (e *Executor) call(ctx context.Context, a responder.Action) error {
	switch a.Kind {
	case responder.RevokeSessions:
		_, err := e.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
			RoleName: aws.String(a.RoleName), PolicyName: aws.String(a.PolicyName), PolicyDocument: aws.String(a.Document),
		})
		return err
	case responder.ForceNewTasks:
		// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html#ECS-UpdateService-request-forceNewDeployment
		_, err := e.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
			Cluster: aws.String(a.Cluster), Service: aws.String(a.Service), ForceNewDeployment: true,
		})
		return err
	case responder.CancelKeyDeletion:
		_, err := e.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(a.KeyARN)})
		return err
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// announce publishes the record's message once; a record that needs none is left alone.
func (e *Executor) announce(ctx context.Context, rec *responder.Record) error {
	if rec.Announced || !rec.Plan.Announced() {
		return nil
	}
	subject, body := responder.Announcement(*rec, e.Table)
	if _, err := e.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(e.TopicARN), Subject: aws.String(subject), Message: aws.String(body)}); err != nil {
		return fmt.Errorf("announcing record %s on %s: %w", rec.ID, e.TopicARN, err)
	}
	rec.Announced = true
	return e.Store.Put(ctx, *rec)
}
