package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/kmswatch/kmswatch/infra/responder"
)

// Standing is what is contained now, per record: the record, and what IAM (or KMS) says today.
type Standing struct {
	Record responder.Record
	// Live is the role's revocation in force now (for a containment), or the key's state (for a
	// cancelled deletion).
	Live string
	// InForce: the role carries exactly the document this record wrote.
	InForce bool
	Note    string
}

// Status lists the records that hold a containment not yet released, with the live policy of
// each role, and cancelled key deletions with the key's state. It reads; it changes nothing.
func (e *Executor) Status(ctx context.Context) ([]Standing, error) {
	records, err := e.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	live := map[string]struct {
		doc string
		has bool
	}{}
	var out []Standing
	for _, r := range records {
		switch {
		case r.Containing():
			a := revocation(r)
			l, seen := live[a.RoleName]
			if !seen {
				if l.doc, l.has, err = RevokePolicy(ctx, e.IAM, a.RoleName); err != nil {
					return nil, err
				}
				live[a.RoleName] = l
			}
			s := Standing{Record: r, Live: l.doc}
			switch before, ok := responder.RevokedBefore(l.doc); {
			case !l.has:
				s.Note = "no " + responder.RevokePolicyName + " on " + a.RoleName + " now: removed outside kmswatch release"
			case responder.SameDocument(l.doc, a.Document):
				s.InForce = true
				s.Note = fmt.Sprintf("in force: sessions of %s issued before %s are denied", a.RoleName, revokedAt(a))
			case ok:
				s.Note = fmt.Sprintf("superseded: the policy now revokes sessions issued before %s (a later record or a person)", before.UTC().Format(time.RFC3339))
			default:
				s.Note = "changed: " + responder.RevokePolicyName + " on " + a.RoleName + " is no revocation now"
			}
			out = append(out, s)
		case r.Status == responder.StatusKeyRestored && e.KMS != nil:
			key := r.Plan.Actions[0].KeyARN
			desc, err := e.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
			if err != nil {
				return nil, fmt.Errorf("reading key %s: %w", key, err)
			}
			state := string(desc.KeyMetadata.KeyState)
			if state != "Disabled" {
				continue // a person enabled it (or scheduled it again): nothing held by the responder
			}
			out = append(out, Standing{Record: r, Live: state,
				Note: "deletion cancelled, key Disabled until a person decides: aws kms enable-key --key-id " + key})
		}
	}
	return out, nil
}

func revocation(r responder.Record) responder.Action {
	for _, a := range r.Plan.Actions {
		if a.Kind == responder.RevokeSessions {
			return a
		}
	}
	return responder.Action{}
}

func revokedAt(a responder.Action) string {
	t, _ := responder.RevokedBefore(a.Document)
	return t.UTC().Format(time.RFC3339)
}
