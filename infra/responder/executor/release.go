package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/kmswatch/kmswatch/infra/responder"
)

// Release undoes a record: it removes the AWSRevokeOlderSessions policy the responder added, or
// puts back the document that was there before, and nothing else. It refuses when the policy is
// no longer what the record wrote (responder.ErrChanged) unless force is set, and before the
// role's maximum session duration has passed since the revocation (responder.ErrSessionsLive, a
// floor: see responder.SessionsExpireBy) unless early is set.
func (e *Executor) Release(ctx context.Context, id string, force, early bool) (responder.Record, error) {
	rec, err := e.Store.Get(ctx, id)
	if err != nil {
		return responder.Record{}, err
	}
	role := ""
	for _, a := range rec.Plan.Actions {
		if a.Kind == responder.RevokeSessions {
			// The record is data from a table: only ever the one policy name, on the role it names.
			if a.PolicyName != responder.RevokePolicyName || a.RoleName == "" {
				return rec, fmt.Errorf("record %s: refusing to touch policy %q of role %q", id, a.PolicyName, a.RoleName)
			}
			role = a.RoleName
		}
	}
	current, has := "", false
	if role != "" {
		if current, has, err = RevokePolicy(ctx, e.IAM, role); err != nil {
			return rec, err
		}
	}
	steps, err := responder.PlanRelease(rec, current, has, force)
	if err != nil {
		return rec, err
	}
	if !early {
		got, err := e.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			return rec, fmt.Errorf("reading role %s's maximum session duration: %w", role, err)
		}
		maxSession := time.Duration(aws.ToInt32(got.Role.MaxSessionDuration)) * time.Second
		if err := responder.CheckSessionsExpired(rec, e.now(), maxSession, early); err != nil {
			return rec, err
		}
	}
	var done []string
	for _, s := range steps {
		if s.Delete {
			_, err = e.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(s.RoleName), PolicyName: aws.String(responder.RevokePolicyName)})
			done = append(done, fmt.Sprintf("deleted %s from role %s", responder.RevokePolicyName, s.RoleName))
		} else {
			_, err = e.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(s.RoleName), PolicyName: aws.String(responder.RevokePolicyName), PolicyDocument: aws.String(s.Document)})
			done = append(done, fmt.Sprintf("restored the prior %s of role %s: %s", responder.RevokePolicyName, s.RoleName, s.Document))
		}
		if err != nil {
			return rec, fmt.Errorf("releasing record %s: %w", id, err)
		}
	}
	rec.Status = responder.StatusReleased
	rec.Released = &responder.Release{At: e.now().UTC(), Steps: done}
	if err := e.Store.Put(ctx, rec); err != nil {
		return rec, fmt.Errorf("released, but recording it failed (the role is released; run status): %w", err)
	}
	return rec, nil
}
