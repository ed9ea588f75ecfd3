package main

import (
	"fmt"
	"slices"
	"testing"
)

// Resource types that add rules to a security group from outside it.
const (
	ingressRuleType = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	egressRuleType  = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	legacyRuleType  = "aws:ec2/securityGroupRule:SecurityGroupRule"
	groupType       = "aws:ec2/securityGroup:SecurityGroup"
)

// securityRules lists every rule the stack gives a group, whichever way it is declared (inline,
// ec2.SecurityGroupRule or vpc.SecurityGroup*Rule), as "in tcp 8080 from sg-…" or "out tcp 443
// to 0.0.0.0/0", keyed by the group's id, so that tests check what is open, not how.
func (r *stackRun) securityRules() map[string][]string {
	rules := map[string][]string{}
	add := func(group, direction string, rule map[string]any, peers ...any) {
		word := map[string]string{"in": "from", "out": "to"}[direction]
		protocol := get(rule, "ipProtocol")
		if protocol == nil {
			protocol = get(rule, "protocol")
		}
		for _, peer := range peers {
			if peer == nil || peer == "" {
				continue
			}
			rules[group] = append(rules[group], fmt.Sprintf("%s %v %v-%v %s %v",
				direction, protocol, get(rule, "fromPort"), get(rule, "toPort"), word, peer))
		}
	}
	for _, sg := range r.all(groupType) {
		for direction, key := range map[string]string{"in": "ingress", "out": "egress"} {
			inline, _ := sg.in(key).([]any)
			for _, rule := range inline {
				m, _ := rule.(map[string]any)
				peers, _ := get(m, "cidrBlocks").([]any)
				groups, _ := get(m, "securityGroups").([]any)
				add(idOf(sg), direction, m, append(peers, groups...)...)
			}
		}
	}
	for typ, direction := range map[string]string{ingressRuleType: "in", egressRuleType: "out"} {
		for _, rule := range r.all(typ) {
			add(rule.str("securityGroupId"), direction, rule.Inputs, rule.in("cidrIpv4"), rule.in("referencedSecurityGroupId"))
		}
	}
	for _, rule := range r.all(legacyRuleType) {
		direction := map[string]string{"ingress": "in", "egress": "out"}[rule.str("type")]
		peers, _ := rule.in("cidrBlocks").([]any)
		add(rule.str("securityGroupId"), direction, rule.Inputs, append(peers, rule.in("sourceSecurityGroupId"))...)
	}
	for group := range rules {
		slices.Sort(rules[group])
	}
	return rules
}

// The provider lets a group's inline rules overwrite separate rules on the same group at the next
// update (and warns against mixing vpc.SecurityGroup*Rule with ec2.SecurityGroupRule), which would
// silently drop the service's PostgreSQL egress.
// https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/
// https://www.pulumi.com/registry/packages/aws/api-docs/vpc/securitygroupegressrule/
func TestSecurityGroupsTargetedBySeparateRulesHaveNoInlineRules(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"allowedCidrs": `["203.0.113.0/24","198.51.100.0/24"]`}))
	groups := map[string]*recorded{}
	for _, sg := range run.all(groupType) {
		groups[idOf(sg)] = sg
	}
	targeted := map[string][]string{} // group id -> rule types that target it
	for _, typ := range []string{ingressRuleType, egressRuleType, legacyRuleType} {
		for _, rule := range run.all(typ) {
			id := rule.str("securityGroupId")
			if groups[id] == nil {
				t.Errorf("%s %s targets %q, not a group of the stack", typ, rule.Name, id)
			}
			targeted[id] = append(targeted[id], typ)
		}
	}
	if len(targeted) == 0 {
		t.Fatal("no separate security group rules at all")
	}
	for id, sg := range groups {
		types := targeted[id]
		for _, key := range []string{"ingress", "egress"} {
			if sg.in(key) == nil {
				continue
			}
			if len(types) > 0 {
				t.Errorf("group %s has inline %s %v and separate rules: the inline list would overwrite them", sg.Name, key, sg.in(key))
			} else {
				t.Errorf("group %s has inline %s %v: declare every rule separately, so that no later rule can be overwritten", sg.Name, key, sg.in(key))
			}
		}
		if slices.Contains(types, legacyRuleType) && (slices.Contains(types, ingressRuleType) || slices.Contains(types, egressRuleType)) {
			t.Errorf("group %s mixes ec2.SecurityGroupRule with vpc rules", sg.Name)
		}
	}
}

// Clients reach the load balancer, the load balancer the app, the app AWS's APIs and its
// database, and nothing else is open.
func TestSecurityGroupsChainClientsLoadBalancerServiceDatabase(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"allowedCidrs": `["203.0.113.0/24","198.51.100.0/24"]`}))
	alb := idOf(run.named(groupType, "network-alb-sg"))
	service := idOf(run.named(groupType, "network-service-sg"))
	db := idOf(run.named(groupType, "db-sg"))
	want := map[string][]string{
		alb: {
			"in tcp 80-80 from 198.51.100.0/24",
			"in tcp 80-80 from 203.0.113.0/24",
			"out tcp 8080-8080 to " + service,
		},
		service: {
			"in tcp 8080-8080 from " + alb,
			"out tcp 443-443 to 0.0.0.0/0",
			"out tcp 5432-5432 to " + db,
		},
		db: {
			"in tcp 5432-5432 from " + service,
		},
	}
	for _, w := range want {
		slices.Sort(w)
	}
	got := run.securityRules()
	for group, rules := range want {
		if !slices.Equal(got[group], rules) {
			t.Errorf("group %s rules\n  %q\nwant\n  %q", group, got[group], rules)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rules on %d groups, want %d: %v", len(got), len(want), got)
	}
}

// Separate rules are created alongside their groups, not with them: the service must wait for
// them, or its first tasks start without HTTPS egress (no image pull) or the health-check path,
// and the deployment circuit breaker rolls the first deployment back.
func TestServiceWaitsForTheSecurityGroupRules(t *testing.T) {
	run := mustRun(t, baseConfig())
	svc := run.one("aws:ecs/service:Service")
	rules := append(run.all(ingressRuleType), run.all(egressRuleType)...)
	if len(rules) == 0 {
		t.Fatal("no security group rules")
	}
	for _, rule := range rules {
		if !svc.dependsOn(rule) {
			t.Errorf("the service does not wait for rule %s", rule.Name)
		}
	}
}
