package main

import (
	"strings"
	"testing"
)

// What `pulumi destroy` does with protect, read from the registrations: RetainOnDelete resources
// are left in AWS and forgotten, everything else is deleted, dependents first. AWS refuses a
// delete in two ways the mocks cannot show, so these tests check for them explicitly:
//   - deletion protection: RDS refuses DeleteDBInstance and ELB refuses DeleteLoadBalancer while it
//     is on (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html#USER_DeleteInstance.DeletionProtection,
//     https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#deletion-protection);
//   - resources in use: a VPC, subnet, internet gateway, security group or DB subnet group that a
//     kept database or load balancer still uses cannot be deleted (DependencyViolation,
//     InvalidDBSubnetGroupStateFault): whatever a kept resource depends on must be kept too.

// keptDespiteDependency lists dependencies a kept resource may lose, with AWS's reason.
var keptDespiteDependency = map[string]string{
	// The app key's policy names the task role. IAM deletes a role that a key policy names; the
	// policy then shows the role's unique id, and the account can still administer the key.
	// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html#key-policy-elements
	"keys-app<-identity-task-role": "a key policy may name a deleted role",
}

func TestDestroyWithProtectKeepsTheDataAndSucceeds(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"protect": "true"}))
	byURN := map[string]*recorded{}
	for _, r := range run.resources {
		byURN[r.URN] = r
	}

	db := run.one("aws:rds/instance:Instance")
	alb := run.one("aws:lb/loadBalancer:LoadBalancer")
	bucket := run.named("aws:s3/bucketV2:BucketV2", "audit-trail-bucket")
	repo := run.one("aws:ecr/repository:Repository")
	kept := map[string]bool{
		"the database":                 db.Retain,
		"the load balancer":            alb.Retain,
		"the trail bucket":             bucket.Retain,
		"the image repository":         repo.Retain,
		"database final snapshot on":   db.in("skipFinalSnapshot") == false && db.str("finalSnapshotIdentifier") != "",
		"database backups kept":        db.in("deleteAutomatedBackups") == false,
		"database deletion protection": db.boolean("deletionProtection"),
		"bucket not emptied":           bucket.in("forceDestroy") == false,
		"images not deleted":           repo.in("forceDelete") == false,
		"keys' pending window at most": run.named("aws:kms/key:Key", "keys-app").num("deletionWindowInDays") == 30,
	}
	// What keeps the kept bucket private and encrypted stays with it.
	for _, typ := range []string{
		"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketPolicy:BucketPolicy",
		"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
		"aws:s3/bucketOwnershipControls:BucketOwnershipControls",
	} {
		for _, r := range run.all(typ) {
			if strings.HasPrefix(r.Name, "audit-trail-bucket") {
				kept[r.Name] = r.Retain
			}
		}
	}
	for _, typ := range []string{"aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key", "aws:kms/alias:Alias"} {
		all := run.all(typ)
		if len(all) < 2 {
			t.Fatalf("%d %s, want the stack's two at least", len(all), typ)
		}
		for _, r := range all {
			kept[r.Name] = r.Retain
		}
	}
	for what, ok := range kept {
		if !ok {
			t.Errorf("with protect: %s: no", what)
		}
	}

	for _, r := range run.resources {
		if isComponent(r) {
			continue
		}
		// AWS refuses to delete what has deletion protection on, and a bucket that still holds objects.
		if !r.Retain && (r.boolean("deletionProtection") || r.boolean("enableDeletionProtection")) {
			t.Errorf("%s (%s) is deleted on destroy with deletion protection on: AWS refuses, and destroy stops", r.Name, r.Type)
		}
		if !r.Retain && r.Type == "aws:s3/bucketV2:BucketV2" && !r.boolean("forceDestroy") {
			t.Errorf("bucket %s is deleted on destroy without forceDestroy: S3 refuses to delete a bucket with objects (BucketNotEmpty)", r.Name)
		}
		if !r.Retain {
			continue
		}
		// A kept resource keeps everything it stands on.
		for _, urn := range r.Deps {
			dep := byURN[urn]
			if dep == nil || isComponent(dep) || dep.Retain {
				continue
			}
			if _, ok := keptDespiteDependency[r.Name+"<-"+dep.Name]; ok {
				continue
			}
			t.Errorf("%s is kept but %s (%s), which it uses, is deleted: AWS refuses to delete it while in use", r.Name, dep.Name, dep.Type)
		}
	}
	// Nothing that only costs money is kept.
	for _, typ := range []string{"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ecs/service:Service", "aws:ecs/cluster:Cluster", "aws:cloudtrail/trail:Trail"} {
		for _, r := range run.all(typ) {
			if r.Retain {
				t.Errorf("%s (%s) is kept by protect; it holds no data and costs by the hour or is monitoring", r.Name, typ)
			}
		}
	}
}

func TestDestroyWithoutProtectRemovesEverything(t *testing.T) {
	run := mustRun(t, withSettings(map[string]string{"protect": "false"}))
	for _, r := range run.resources {
		if r.Retain {
			t.Errorf("%s (%s) is kept on destroy without protect", r.Name, r.Type)
		}
		if r.boolean("deletionProtection") || r.boolean("enableDeletionProtection") {
			t.Errorf("%s (%s) has deletion protection without protect: destroy would stop on it", r.Name, r.Type)
		}
	}
	db := run.one("aws:rds/instance:Instance")
	for _, b := range run.all("aws:s3/bucketV2:BucketV2") {
		if !b.boolean("forceDestroy") {
			t.Errorf("bucket %s without forceDestroy: destroy stops on its objects", b.Name)
		}
	}
	if !db.boolean("skipFinalSnapshot") || !run.one("aws:ecr/repository:Repository").boolean("forceDelete") {
		t.Error("without protect, destroy must not stop on a snapshot, objects in the bucket or images in the repository")
	}
	if w := run.named("aws:kms/key:Key", "keys-app").num("deletionWindowInDays"); w != 7 {
		t.Errorf("key pending window %v days, want the shortest, 7", w)
	}
}

func TestKeptResourcesDependOnWhatTheyUse(t *testing.T) {
	// The check above is only as good as the dependencies the mocks record: make sure they are there.
	run := mustRun(t, withSettings(map[string]string{"protect": "true"}))
	db := run.one("aws:rds/instance:Instance")
	if !db.dependsOn(run.one("aws:rds/subnetGroup:SubnetGroup")) || !db.dependsOn(run.named("aws:ec2/securityGroup:SecurityGroup", "db-sg")) {
		t.Fatalf("the database's registration does not list its subnet group and group as dependencies: %v", db.Deps)
	}
	alb := run.one("aws:lb/loadBalancer:LoadBalancer")
	if !alb.dependsOn(run.named("aws:ec2/subnet:Subnet", "network-public-1")) {
		t.Fatalf("the load balancer's registration does not list its subnets: %v", alb.Deps)
	}
}

func isComponent(r *recorded) bool { return strings.HasPrefix(r.Type, "kmswatch:") }
