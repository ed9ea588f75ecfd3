package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	dbName          = "kmswatch"
	dbEngineVersion = "15" // the major version CI tests against (postgres:15); RDS picks the minor
)

// DatabaseArgs places PostgreSQL in the private subnets, reachable from the service only.
type DatabaseArgs struct {
	Names                  stackNames
	VpcID                  pulumi.StringInput
	PrivateSubnetIDs       pulumi.StringArrayInput
	ServiceSecurityGroupID pulumi.IDInput
	InstanceClass          string
	Protect                bool
}

// Database is RDS PostgreSQL whose master password RDS keeps in Secrets Manager.
type Database struct {
	pulumi.ResourceState

	Address   pulumi.StringOutput
	Port      pulumi.IntOutput
	Name      string
	SecretARN pulumi.StringOutput // the RDS-managed master user secret
	Rules     []pulumi.Resource   // the database's and the service's PostgreSQL rules
}

func newDatabase(ctx *pulumi.Context, name string, args DatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	d := &Database{Name: dbName}
	if err := ctx.RegisterComponentResource("kmswatch:data:Database", name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	// With protect, destroy leaves the database running (deletion protection on, a final snapshot
	// when it is deleted later) with what it needs to keep running: its subnet group and group.
	keep := pulumi.RetainOnDelete(args.Protect)

	subnets, err := rds.NewSubnetGroup(ctx, name+"-subnets", &rds.SubnetGroupArgs{
		Description: pulumi.String("kmswatch database: private subnets"),
		SubnetIds:   args.PrivateSubnetIDs,
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	// No inline rules (see network.go), and no egress: the provider removes AWS's default
	// allow-all egress from a new group.
	dbSG, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		Description: pulumi.String("kmswatch database: PostgreSQL from the service only"),
		VpcId:       args.VpcID,
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	dbID := dbSG.ID().ToStringOutput()
	serviceID := args.ServiceSecurityGroupID.ToIDOutput().ToStringOutput()
	if d.Rules, err = newSecurityRules(ctx, name, []securityRule{
		{Name: "from-service", Ingress: true, Group: dbID, Description: "the app tasks", Port: postgresPort, PeerGroup: serviceID},
		{Name: "service-to-db", Group: serviceID, Description: "the app to PostgreSQL", Port: postgresPort, PeerGroup: dbID},
	}, parent, keep); err != nil {
		return nil, err
	}

	dbArgs := &rds.InstanceArgs{
		Engine:              pulumi.String("postgres"),
		EngineVersion:       pulumi.String(dbEngineVersion),
		InstanceClass:       pulumi.String(args.InstanceClass),
		AllocatedStorage:    pulumi.Int(20),
		StorageType:         pulumi.String("gp3"),
		StorageEncrypted:    pulumi.Bool(true),
		DbName:              pulumi.String(dbName),
		Username:            pulumi.String("kmswatch"),
		DbSubnetGroupName:   subnets.Name,
		VpcSecurityGroupIds: pulumi.StringArray{dbSG.ID()},
		PubliclyAccessible:  pulumi.Bool(false),
		// RDS generates the password and keeps it in Secrets Manager; it never passes through Pulumi state.
		// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
		ManageMasterUserPassword: pulumi.Bool(true),
		BackupRetentionPeriod:    pulumi.Int(7),
		CopyTagsToSnapshot:       pulumi.Bool(true),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		// Standard support only: extended support is billed per vCPU-hour once a major version ages out.
		EngineLifecycleSupport: pulumi.String("open-source-rds-extended-support-disabled"),
		DeletionProtection:     pulumi.Bool(args.Protect),
		SkipFinalSnapshot:      pulumi.Bool(!args.Protect),
		DeleteAutomatedBackups: pulumi.Bool(!args.Protect),
		ApplyImmediately:       pulumi.Bool(!args.Protect),
	}
	if args.Protect {
		dbArgs.FinalSnapshotIdentifier = pulumi.String(args.Names.FinalSnapshot())
	}
	instance, err := rds.NewInstance(ctx, name+"-postgres", dbArgs, parent, keep)
	if err != nil {
		return nil, err
	}

	d.Address = instance.Address
	d.Port = instance.Port
	d.SecretARN = instance.MasterUserSecrets.Index(pulumi.Int(0)).SecretArn().Elem()
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{
		"address":   d.Address,
		"port":      d.Port,
		"secretArn": d.SecretARN,
	})
}
