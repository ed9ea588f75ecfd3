package rules

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// ebMatches is a small evaluator of the EventBridge event-pattern subset EventPattern emits, used
// as an oracle: every field in the pattern must match; a list of strings matches a string equal to
// one of them (an array in the event matches when any element does, arrays of objects included);
// {"exists":true|false} tests presence; {"suffix":s} matches a string ending in s; "$or" holds
// when one of its patterns does.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
func ebMatches(pattern map[string]any, event any) bool {
	for key, want := range pattern {
		if key == "$or" {
			alts, _ := want.([]any)
			if !slices.ContainsFunc(alts, func(a any) bool { m, _ := a.(map[string]any); return ebMatches(m, event) }) {
				return false
			}
			continue
		}
		got, found := ebField(event, key)
		switch w := want.(type) {
		case map[string]any:
			if !found || !ebAny(got, func(v any) bool { return ebMatches(w, v) }) {
				return false
			}
		case []any:
			if !ebList(w, got, found) {
				return false
			}
		}
	}
	return true
}

func ebField(v any, key string) (any, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	got, ok := obj[key]
	return got, ok
}

// ebAny applies fn to v, or to each element when v is an array.
func ebAny(v any, fn func(any) bool) bool {
	if arr, ok := v.([]any); ok {
		for _, el := range arr {
			if fn(el) {
				return true
			}
		}
		return false
	}
	return fn(v)
}

func ebList(list []any, got any, found bool) bool {
	for _, item := range list {
		switch it := item.(type) {
		case string:
			if found && ebAny(got, func(v any) bool { return v == it }) {
				return true
			}
		case map[string]any:
			if exists, ok := it["exists"].(bool); ok && exists == found {
				return true
			}
			if end, ok := it["suffix"].(string); ok && found && ebAny(got, func(v any) bool { s, _ := v.(string); return strings.HasSuffix(s, end) }) {
				return true
			}
		}
	}
	return false
}

// TestEventPatternAgreesWithMatcher checks, on every sample wrapped as EventBridge delivers it,
// that the rendered event pattern and the Go matcher agree, with and without key scoping.
func TestEventPatternAgreesWithMatcher(t *testing.T) {
	keyed := Params{KeyARNs: []string{"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}
	otherKey := Params{KeyARNs: []string{"arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"}}
	for _, r := range Default() {
		for _, p := range []Params{{}, keyed, otherKey} {
			text, ok := r.EventPattern(p)
			if !ok {
				continue
			}
			var pattern map[string]any
			if err := json.Unmarshal([]byte(text), &pattern); err != nil {
				t.Fatalf("%s: event pattern is not JSON: %v", r.ID, err)
			}
			matched := 0
			for _, name := range sampleNames(t) {
				for _, rec := range mustSampleRecords(t, name) {
					ev, err := EventBridgeEvent(rec)
					if err != nil {
						t.Fatal(err)
					}
					var event any
					if err := json.Unmarshal(ev, &event); err != nil {
						t.Fatal(err)
					}
					want := r.Matches(mustParse(t, rec), p)
					if got := ebMatches(pattern, event); got != want {
						t.Errorf("%s keys %v on %s: pattern says %v, matcher %v", r.ID, p.KeyARNs, name, got, want)
					}
					if want {
						matched++
					}
				}
			}
			if len(p.KeyARNs) == 0 && matched == 0 {
				t.Errorf("%s: no sample matched, so the comparison proves little", r.ID)
			}
		}
	}
}

func sampleNames(t testing.TB) []string {
	t.Helper()
	return []string{
		"ebs-attach-encrypted-volume.json", "kms-creategrant.json", "kms-decrypt-incorrectkey-iamuser.json",
		"kms-decrypt-invalidstate-iamuser.json", "kms-decrypt-success-iamuser.json", "kms-deletekey-serviceevent.json",
		"kms-disablekey.json", "kms-encrypt-iamuser.json", "kms-putkeypolicy.json", "kms-schedulekeydeletion.json",
		"lab-decrypt-incorrectkey-taskrole.json",
	}
}
