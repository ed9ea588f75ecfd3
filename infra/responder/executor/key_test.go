package executor

import (
	"slices"
	"strings"
	"testing"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/kmswatch/kmswatch/infra/responder"
)

func TestAScheduledDeletionOfTheAppKeyIsCancelledAndTheKeyStaysDisabled(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	h.kms.states[appKey] = kmstypes.KeyStatePendingDeletion
	rec := h.mustHandle(t, keyEvent(t, "kms-schedulekeydeletion.json", appKey))
	if rec.Status != responder.StatusKeyRestored || h.kms.states[appKey] != kmstypes.KeyStateDisabled {
		t.Fatalf("status %s, key %s", rec.Status, h.kms.states[appKey])
	}
	if want := []string{"DescribeKey " + appKey, "CancelKeyDeletion " + appKey}; !slices.Equal(h.kms.calls, want) {
		t.Errorf("KMS calls %v, want %v", h.kms.calls, want)
	}
	if len(h.iam.writes) != 0 || len(h.ecs.deployments) != 0 {
		t.Errorf("a key event touched IAM %v or ECS %v", h.iam.writes, h.ecs.deployments)
	}
	msg := *h.sns.published[0].Message
	if !strings.Contains(*h.sns.published[0].Subject, "KEY DELETION CANCELLED") || !strings.Contains(msg, "aws kms enable-key --key-id "+appKey) {
		t.Errorf("announcement:\n%s", msg)
	}
	if _, err := h.Release(t.Context(), rec.ID, false, true); err == nil || !strings.Contains(err.Error(), "enable-key") {
		t.Errorf("release of a cancelled deletion: %v", err)
	}
	standing, err := h.Status(t.Context())
	if err != nil || len(standing) != 1 || standing[0].Live != "Disabled" {
		t.Errorf("status %+v, %v", standing, err)
	}
	h.kms.states[appKey] = kmstypes.KeyStateEnabled // a person decided
	if standing, _ := h.Status(t.Context()); len(standing) != 0 {
		t.Errorf("an enabled key is still listed: %+v", standing)
	}
}

// The audit key: no call on it at all, not even a read; nothing announced by the responder (the
// rule's own notification reaches the person).
func TestTheAuditKeyIsNeverActedOn(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	h.kms.states[auditKey] = kmstypes.KeyStatePendingDeletion
	for _, sample := range []string{"kms-schedulekeydeletion.json", "kms-disablekey.json"} {
		rec := h.mustHandle(t, keyEvent(t, sample, auditKey))
		if rec.Plan.Decision != responder.DecideReport || rec.Status != responder.StatusReported || len(rec.Plan.Actions) != 0 {
			t.Errorf("%s: %s %s", sample, rec.Plan.Decision, rec.Status)
		}
	}
	if len(h.kms.calls) != 0 || len(h.sns.published) != 0 || h.kms.states[auditKey] != kmstypes.KeyStatePendingDeletion {
		t.Errorf("KMS calls %v, announcements %d, audit key %s", h.kms.calls, len(h.sns.published), h.kms.states[auditKey])
	}
}

func TestDisableKeyOnTheAppKeyIsRecordedNotUndone(t *testing.T) {
	h := newHarness(t, responder.ModeContain)
	h.kms.states[appKey] = kmstypes.KeyStateDisabled
	rec := h.mustHandle(t, keyEvent(t, "kms-disablekey.json", appKey))
	if rec.Status != responder.StatusReported || h.kms.states[appKey] != kmstypes.KeyStateDisabled || len(h.sns.published) != 0 {
		t.Errorf("status %s, key %s, announcements %d", rec.Status, h.kms.states[appKey], len(h.sns.published))
	}
	if slices.Contains(h.kms.calls, "CancelKeyDeletion "+appKey) {
		t.Error("cancelled a deletion nobody scheduled")
	}
}

func TestADryRunDoesNotCancelTheDeletion(t *testing.T) {
	h := newHarness(t, responder.ModeDryRun)
	h.kms.states[appKey] = kmstypes.KeyStatePendingDeletion
	rec := h.mustHandle(t, keyEvent(t, "kms-schedulekeydeletion.json", appKey))
	if rec.Status != responder.StatusDryRun || h.kms.states[appKey] != kmstypes.KeyStatePendingDeletion {
		t.Errorf("status %s, key %s", rec.Status, h.kms.states[appKey])
	}
	if !slices.Equal(h.kms.calls, []string{"DescribeKey " + appKey}) {
		t.Errorf("KMS calls %v: a dry run only reads", h.kms.calls)
	}
}
