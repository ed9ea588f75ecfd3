package dynamodb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
)

var t0 = time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC)

func record(id string, status responder.Status) responder.Record {
	prior := responder.RevokeDocument(t0.Add(-time.Hour))
	return responder.Record{ID: id, Created: t0, Mode: responder.ModeContain, Status: status, Plan: responder.Plan{
		Decision: responder.DecideContain, At: t0,
		Actions: []responder.Action{{Kind: responder.RevokeSessions, RoleName: "r", PolicyName: responder.RevokePolicyName,
			Document: responder.RevokeDocument(t0), Undo: responder.Undo{Kind: responder.UndoRestorePolicy, PriorDocument: prior}}},
	}, Results: []responder.ActionResult{{Applied: true, AppliedAt: t0}}}
}

func TestRecordsRoundTripExactly(t *testing.T) {
	ctx := context.Background()
	fake, store := newFakeDynamoDB(t, "kmswatch-dev-responder")
	want := record("20261126T101500Z-0a1b2c3d", responder.StatusContained)
	if err := store.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, want); !errors.Is(err, responder.ErrExists) {
		t.Errorf("creating it again: %v, want ErrExists", err)
	}
	got, err := store.Get(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan.Actions[0].Undo.PriorDocument != want.Plan.Actions[0].Undo.PriorDocument || got.Status != want.Status ||
		!got.Results[0].AppliedAt.Equal(t0) || got.Plan.Actions[0].Document != want.Plan.Actions[0].Document {
		t.Errorf("read back %+v\nwant %+v", got, want)
	}
	if fake.attr(want.ID, "status") != "contained" || fake.attr(want.ID, "created") != "2026-11-26T10:15:00Z" {
		t.Errorf("item attributes status=%q created=%q", fake.attr(want.ID, "status"), fake.attr(want.ID, "created"))
	}
	want.Status = responder.StatusReleased
	if err := store.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get(ctx, want.ID); got.Status != responder.StatusReleased {
		t.Errorf("after Put the status is %s", got.Status)
	}
	if _, err := store.Get(ctx, "20990101T000000Z-ffffffff"); !errors.Is(err, responder.ErrNotFound) {
		t.Errorf("an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := store.Get(ctx, rateLimitPrefix+"contain"); !errors.Is(err, responder.ErrNotFound) {
		t.Errorf("the rate-limit item is no record: %v", err)
	}
}

func TestListSkipsTheRateLimitItemAndSortsByID(t *testing.T) {
	ctx := context.Background()
	_, store := newFakeDynamoDB(t, "t")
	for _, id := range []string{"20261126T101500Z-b", "20261125T090000Z-a", "20261127T000000Z-c"} {
		if err := store.Create(ctx, record(id, responder.StatusContained)); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _, err := store.ClaimContainment(ctx, responder.ModeContain, t0, time.Hour, "x"); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	list, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	if len(ids) != 3 || ids[0] != "20261125T090000Z-a" || ids[2] != "20261127T000000Z-c" {
		t.Errorf("listed %v", ids)
	}
}

func TestClaimContainmentAllowsOnePerInterval(t *testing.T) {
	ctx := context.Background()
	fake, store := newFakeDynamoDB(t, "t")
	contain := responder.ModeContain
	if last, err := store.LastContainment(ctx, contain); err != nil || !last.IsZero() {
		t.Fatalf("before any containment: %s, %v", last, err)
	}
	for _, tc := range []struct {
		at   time.Time
		ok   bool
		last time.Time
	}{
		{t0, true, time.Time{}},
		{t0.Add(59 * time.Minute), false, t0},
		{t0.Add(time.Hour), true, time.Time{}},
		{t0.Add(time.Hour + time.Second), false, t0.Add(time.Hour)},
	} {
		ok, last, err := store.ClaimContainment(ctx, contain, tc.at, time.Hour, "r-"+tc.at.Format(timeLayout))
		if err != nil || ok != tc.ok || !last.Equal(tc.last) {
			t.Errorf("claim at %s: %v, last %s, %v; want %v, last %s (calls %s)", tc.at, ok, last, err, tc.ok, tc.last, fake)
		}
	}
	if last, err := store.LastContainment(ctx, contain); err != nil || !last.Equal(t0.Add(time.Hour)) {
		t.Errorf("last containment %s, %v", last, err)
	}
	if by := fake.attr(rateLimitPrefix+"contain", "byRecord"); by != "r-2026-11-26T11:15:00Z" {
		t.Errorf("the rate limit names record %q", by)
	}
	// A retry of the record that holds the claim gets it again; another record does not.
	holder := "r-2026-11-26T11:15:00Z"
	if ok, _, err := store.ClaimContainment(ctx, contain, t0.Add(time.Hour+2*time.Minute), time.Hour, holder); !ok || err != nil {
		t.Errorf("the holder's retry: %v, %v", ok, err)
	}
	// A dry run's containments are counted apart and never hold back a real one.
	if ok, _, err := store.ClaimContainment(ctx, responder.ModeDryRun, t0.Add(time.Hour+3*time.Minute), time.Hour, "dry"); !ok || err != nil {
		t.Errorf("a dry run's claim: %v, %v", ok, err)
	}
	if last, _ := store.LastContainment(ctx, contain); !last.Equal(t0.Add(time.Hour + 2*time.Minute)) {
		t.Errorf("after the dry run, the real last containment is %s", last)
	}
}

func TestErrorsNameTheTable(t *testing.T) {
	_, store := newFakeDynamoDB(t, "t")
	store.Table = "no-such-table"
	if _, err := store.Get(context.Background(), "x"); err == nil || errors.Is(err, responder.ErrNotFound) || !strings.Contains(err.Error(), "no-such-table") {
		t.Errorf("a missing table: %v", err)
	}
}
