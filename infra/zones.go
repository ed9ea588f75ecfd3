package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// zone is an availability zone by its account-specific name (eu-west-1a) and its AZ ID
// (euw1-az1), which is the same physical zone in every account.
// https://docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html
type zone struct{ Name, ID string }

// fargateZoneIDs lists, for the Regions where Linux containers on Fargate run in some zones only,
// the zone IDs they run in ("Supported Regions for Amazon ECS on AWS Fargate", Linux containers,
// read 2026-12-01). A service whose subnets sit in another zone cannot place its tasks there.
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AWS_Fargate-Regions.html
var fargateZoneIDs = map[string][]string{
	"us-west-1":      {"usw1-az1", "usw1-az3"},
	"ap-northeast-1": {"apne1-az1", "apne1-az2", "apne1-az4"},
	"cn-north-1":     {"cnn1-az1", "cnn1-az2"},
}

// zonesNeeded: the ALB needs subnets in two zones and an RDS subnet group must cover two.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#availability-zones
// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html#USER_VPC.Subnets
const zonesNeeded = 2

// chooseZones picks the stack's two zones from the region's (names and ids as
// GetAvailabilityZones returns them, aligned): those Fargate supports, ordered by zone ID, so that
// every account deploys to the same physical zones whatever its names map to.
func chooseZones(region string, names, ids []string) ([]zone, error) {
	if len(names) != len(ids) {
		return nil, fmt.Errorf("availability zones of %s: %d names but %d zone IDs", region, len(names), len(ids))
	}
	supported, restricted := fargateZoneIDs[region]
	var usable []zone
	for i := range names {
		if restricted && !slices.Contains(supported, ids[i]) {
			continue
		}
		usable = append(usable, zone{Name: names[i], ID: ids[i]})
	}
	sort.Slice(usable, func(i, j int) bool { return usable[i].ID < usable[j].ID })
	if len(usable) < zonesNeeded {
		why := ""
		if restricted {
			why = fmt.Sprintf(" that Fargate supports (%s)", strings.Join(supported, ", "))
		}
		return nil, fmt.Errorf("region %s has %d available zone(s)%s; kmswatch needs %d (the load balancer and the RDS subnet group span two zones)",
			region, len(usable), why, zonesNeeded)
	}
	return usable[:zonesNeeded], nil
}
