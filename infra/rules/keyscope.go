package rules

import (
	"fmt"
	"slices"
	"strings"
)

// The key scope: when is a KMS call "on the stack's keys"?
//
// Issue 9 asked whether EventBridge's "AWS API Call via CloudTrail" events carry
// detail.resources for KMS calls. Not reliably. The event's detail is the CloudTrail record, and
// AWS's published example of such an event has no "resources" in it
// (testdata/shapes/eventbridge-cloudtrail-createbucket.json, from the EventBridge User Guide).
// For KMS, "Starting in December 2022, AWS KMS populates the resource type and resource name
// attributes in all management operations that change a particular KMS key"; older entries of
// CreateAlias, CreateGrant, DeleteAlias, UpdateAlias and others may have none
// (https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html).
// So the scope holds when any field a call names the key in does: requestParameters.keyId, in
// the form the caller sent (key ARN, key id, alias name, alias ARN); requestParameters.targetKeyId
// and aliasName for alias calls (https://docs.aws.amazon.com/kms/latest/developerguide/ct-updatealias.html);
// or resources.ARN. Each form has a test record in the rules' cases.
func keyScope() cond {
	return cond{op: opAny, alts: []cond{
		equalsParam("requestParameters.keyId", paramKeyRef),
		equalsParam("requestParameters.targetKeyId", paramKeyTarget),
		equalsParam("requestParameters.aliasName", paramAliasName),
		equalsParam("resources.ARN", paramKeyResource),
	}}
}

// keyForms are the strings that name the keys of Params, per field a call records them in.
type keyForms struct {
	ref, target, alias, resource []string // exact values
	refEnds, targetEnds, resEnds []string // endings, for ids and aliases of unknown account and Region
}

func (p Params) keyForms() keyForms {
	var kf keyForms
	type place struct{ partition, region, account string }
	var places []place
	for _, a := range p.KeyARNs {
		k, err := ParseKeyRef(a)
		if err != nil || k.Kind != KeyARN {
			// Not a key ARN after all: compare it as given wherever a key is named.
			kf.ref, kf.target, kf.resource = append(kf.ref, a), append(kf.target, a), append(kf.resource, a)
			continue
		}
		kf.ref = append(kf.ref, a, k.Name)
		kf.target = append(kf.target, a, k.Name)
		kf.resource = append(kf.resource, a)
		if pl := (place{k.Partition, k.Region, k.Account}); !slices.Contains(places, pl) {
			places = append(places, pl)
		}
	}
	for _, id := range p.KeyIDs {
		end := ":key/" + id
		kf.ref, kf.target = append(kf.ref, id), append(kf.target, id)
		kf.refEnds, kf.targetEnds, kf.resEnds = append(kf.refEnds, end), append(kf.targetEnds, end), append(kf.resEnds, end)
	}
	for _, a := range p.KeyAliases {
		if k, err := ParseKeyRef(a); err == nil && k.Kind == AliasARN {
			name := "alias/" + k.Name
			kf.ref, kf.alias, kf.resource = append(kf.ref, a, name), append(kf.alias, name), append(kf.resource, a)
			continue
		}
		kf.ref, kf.alias = append(kf.ref, a), append(kf.alias, a)
		if len(places) == 0 {
			end := ":" + a // alias ARNs end in ":alias/NAME"
			kf.refEnds, kf.resEnds = append(kf.refEnds, end), append(kf.resEnds, end)
		}
		for _, pl := range places {
			arn := fmt.Sprintf("arn:%s:kms:%s:%s:%s", pl.partition, pl.region, pl.account, a)
			kf.ref, kf.resource = append(kf.ref, arn), append(kf.resource, arn)
		}
	}
	for _, l := range []*[]string{&kf.ref, &kf.target, &kf.alias, &kf.resource, &kf.refEnds, &kf.targetEnds, &kf.resEnds} {
		*l = unique(*l)
	}
	return kf
}

func (kf keyForms) of(p param) (exact, suffixes []string) {
	switch p {
	case paramKeyRef:
		return kf.ref, kf.refEnds
	case paramKeyTarget:
		return kf.target, kf.targetEnds
	case paramAliasName:
		return kf.alias, nil
	case paramKeyResource:
		return kf.resource, kf.resEnds
	}
	return nil, nil
}

func unique(l []string) []string {
	var out []string
	for _, v := range l {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// addEventBridgeOr renders an opAny condition into an event pattern's detail: the one
// alternative that has values in place, several as "$or", each a string list where an ending
// is {"suffix": ...}.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
func addEventBridgeOr(detail map[string]any, c cond, p Params) {
	if c.replayOnly {
		return
	}
	type alt struct {
		path  []string
		match []any
	}
	var alts []alt
	for _, a := range c.alts {
		exact, ok := a.rendered(p)
		if !ok {
			continue
		}
		var match []any
		for _, v := range exact {
			match = append(match, v)
		}
		for _, end := range a.suffixes(p) {
			match = append(match, map[string]string{"suffix": end})
		}
		alts = append(alts, alt{strings.Split(a.field, "."), match})
	}
	switch len(alts) {
	case 0:
	case 1:
		setPath(detail, alts[0].path, alts[0].match)
	default:
		var or []any
		for _, a := range alts {
			m := map[string]any{}
			setPath(m, a.path, a.match)
			or = append(or, m)
		}
		detail["$or"] = or
	}
}

// anyTerm renders an opAny condition as a CloudWatch term: the alternatives joined by ||, an
// ending as a leading wildcard ("*" matches any text before the term).
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
func (s patternStyle) anyTerm(c cond, p Params) string {
	var terms []string
	for _, a := range c.alts {
		exact, ok := a.rendered(p)
		if !ok {
			continue
		}
		values := slices.Clone(exact)
		for _, end := range a.suffixes(p) {
			values = append(values, "*"+end)
		}
		terms = append(terms, s.term(a, values))
	}
	if len(terms) == 0 {
		return ""
	}
	sep := " || "
	if s == styleCIS {
		sep = "||"
	}
	return "(" + strings.Join(terms, sep) + ")"
}
