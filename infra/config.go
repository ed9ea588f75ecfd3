package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/rules"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Config is the stack's settings, read once from Pulumi config and validated before any
// resource exists. Pulumi.yaml declares the same keys with their types and defaults.
type Config struct {
	AlertEmail string

	// Firing is each alarmed rule's firing, by rule id, from its four settings (rules.SettingName:
	// appKmsErrorsThreshold, ...PeriodSeconds, ...EvaluationPeriods, ...DatapointsToAlarm), and an
	// adaptive rule's fifth, ...AnomalyBand.
	Firing map[string]rules.Firing

	NATGateways     string // natSingle or natOnePerAZ
	DBInstanceClass string
	DesiredCount    int
	MinCount        int
	MaxCount        int
	CertificateARN  string   // "" serves plain HTTP on 80
	DomainName      string   // the name clients use (and the certificate is for); "" = the ALB's own
	HostedZoneID    string   // a Route 53 public hosted zone for DomainName: the stack adds the alias record
	AllowedCIDRs    []string // who may reach the load balancer, without duplicates
	LogRetention    int      // days, for the trail's and the app's log groups
	// An existing trail to watch instead of creating one: its CloudWatch Logs group in this Region
	// and (for replay and hunting) its bucket. "" creates the stack's own multi-Region trail.
	TrailLogGroupName string
	TrailBucketName   string
	// A brought organization trail's organization id: its files lie under AWSLogs/<org id>/<account>/.
	// "" for any other trail.
	TrailOrganizationID string
	// The KMS key a brought trail's files are SSE-KMS under: the hunters may decrypt with it
	// through S3. "" when they are not, or the key is the stack's audit key (its own trail).
	TrailKMSKeyARN string
	Protect        bool // keep data on destroy: deletion protection, final snapshot, retained buckets
	Hunting        bool // Athena table, workgroup and saved queries over the trail (hunting.go)
	// The accounts and Regions the Athena table projects (and the hunters may read): nil for the
	// stack's own account and Region only (resolved against them by huntingScope).
	HuntingAccounts []string
	HuntingRegions  []string

	// The responder (infra/response.go): what it may do, the rules whose alarms contain the task
	// role, and at most one new containment per ContainmentInterval minutes.
	Response            responder.Mode
	ContainOnRules      []string
	ContainmentInterval int
}

const (
	natSingle   = "single"
	natOnePerAZ = "onePerAz"
)

// logRetentionDays are the values CloudWatch Logs accepts for retentionInDays.
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	// ACM certificate ARN: arn:<partition>:acm:<region>:<account>:certificate/<uuid>.
	// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscertificatemanager.html#awscertificatemanager-resources-for-iam-policies
	certificateARNPattern = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:acm:([a-z]{2}(-[a-z]+)+-\d):(\d{12}):certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// RDS DB instance classes look like db.t4g.micro or db.r6g.2xlarge.
	dbInstanceClassPattern = regexp.MustCompile(`^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	// A DNS name: labels of letters, digits and inner hyphens, at least two labels, 253 characters
	// at most (RFC 1035, RFC 1123). Route 53 accepts that and more; clients need this much.
	domainNamePattern   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	logGroupNamePattern = regexp.MustCompile(`^[A-Za-z0-9_\-/.#]{1,512}$`)
	bucketNamePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// Route 53 hosted zone ids: "Z" and upper-case letters and digits, e.g. Z1D633PJN98FT9.
	hostedZoneIDPattern = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	// Region names such as eu-west-1, us-gov-west-1 or ap-southeast-2; account ids are 12 digits.
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	// An organization id is "o-" and 10 to 32 lower-case letters or digits, as the organization
	// part of the Organizations ARN patterns reads (o-[a-z0-9]{10,32}).
	// https://docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html
	organizationIDPattern = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	// A KMS key ARN: arn:<partition>:kms:<region>:<account>:key/<key id>, the key id a UUID, or
	// mrk- and 32 hex digits for a multi-Region key. An alias ARN names no key a policy can grant.
	// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id
	kmsKeyARNPattern   = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):kms:([a-z]{2}(-[a-z]+)+-\d):(\d{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	kmsAliasARNPattern = regexp.MustCompile(`^arn:[a-z-]+:kms:[^:]*:[^:]*:alias/`)
)

// maxHuntingAccounts keeps the hunters' policy, which names two S3 paths per account, under
// IAM's 6,144 characters for a managed policy with the longest bucket name and organization id
// and a brought key (TestHuntersPolicyFitsIAMsLimitWithTheMostAccounts); huntersPolicyFits
// measures the stack's own names, a long brought log group name among them.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
const maxHuntingAccounts = 12

// defaultConfig holds the defaults for every optional setting. The rule-derived ones come from
// the rule set, so that an unset stack behaves as the rules were written.
func defaultConfig() Config {
	firing := map[string]rules.Firing{}
	for _, r := range rules.Default() {
		if r.Tunable() {
			firing[r.ID] = r.Firing
		}
	}
	return Config{
		Firing:          firing,
		NATGateways:     natSingle,
		DBInstanceClass: "db.t4g.micro",
		DesiredCount:    1,
		MinCount:        1,
		MaxCount:        2,
		AllowedCIDRs:    []string{"0.0.0.0/0"},
		LogRetention:    90,
		Hunting:         true,
		// dryRun until the thresholds are tuned: a first deployment sees what containment would
		// do (records, announcements) without revoking or redeploying on a false alarm.
		Response: responder.ModeDryRun,
		// Both alarms that mean the task role's credentials are used beyond the app: the trail's
		// volume count, and the minute-fast count of decrypts the app did not serve.
		ContainOnRules:      []string{"app-decrypt-volume", "app-decrypt-unserved"},
		ContainmentInterval: 60,
	}
}

// loadConfig reads the project's config namespace ("kmswatch:<key>") and validates it.
func loadConfig(ctx *pulumi.Context) (Config, error) {
	project := ctx.Project()
	return parseConfig(func(key string) (string, bool) {
		return ctx.GetConfig(project + ":" + key)
	})
}

// parseConfig builds a Config from raw config values (strings, arrays as JSON) and reports every
// invalid setting at once, each error naming the setting and what it accepts.
func parseConfig(lookup func(key string) (string, bool)) (Config, error) {
	c := defaultConfig()
	p := configParser{lookup: lookup}

	c.AlertEmail = p.requiredString("alertEmail", `your address: "ALERT_EMAIL=<you@your-domain> make up", or "pulumi config set alertEmail <you@your-domain>" once the stack exists`)
	if tuned, err := rules.ApplySettings(rules.Default(), p.lookup); err != nil {
		p.errs = append(p.errs, err)
	} else {
		for _, r := range tuned {
			if r.Tunable() {
				c.Firing[r.ID] = r.Firing
			}
		}
	}
	p.string("natGateways", &c.NATGateways)
	p.string("dbInstanceClass", &c.DBInstanceClass)
	p.int("desiredCount", &c.DesiredCount)
	p.int("minCount", &c.MinCount)
	p.int("maxCount", &c.MaxCount)
	p.string("certificateArn", &c.CertificateARN)
	p.string("domainName", &c.DomainName)
	p.string("hostedZoneId", &c.HostedZoneID)
	p.stringList("allowedCidrs", &c.AllowedCIDRs)
	p.int("logRetentionDays", &c.LogRetention)
	p.string("trailLogGroupName", &c.TrailLogGroupName)
	p.string("trailBucketName", &c.TrailBucketName)
	p.string("trailOrganizationId", &c.TrailOrganizationID)
	p.string("trailKmsKeyArn", &c.TrailKMSKeyARN)
	p.bool("protect", &c.Protect)
	p.bool("hunting", &c.Hunting)
	p.stringList("huntingAccounts", &c.HuntingAccounts)
	p.stringList("huntingRegions", &c.HuntingRegions)
	response := string(c.Response)
	p.string("response", &response)
	c.Response = responder.Mode(response)
	p.stringList("containOnRules", &c.ContainOnRules)
	p.int("containmentIntervalMinutes", &c.ContainmentInterval)
	c.AllowedCIDRs = dedupe(c.AllowedCIDRs)
	c.ContainOnRules = dedupe(c.ContainOnRules)
	// [] (Pulumi.yaml's default) is the stack's own account or Region, as unset is.
	if len(c.HuntingAccounts) == 0 {
		c.HuntingAccounts = nil
	}
	if len(c.HuntingRegions) == 0 {
		c.HuntingRegions = nil
	}
	if len(p.errs) > 0 {
		return Config{}, configError(p.errs)
	}
	if errs := c.validate(); len(errs) > 0 {
		return Config{}, configError(errs)
	}
	return c, nil
}

// broughtTrail is the existing trail the stack watches, or nil when it creates its own.
func (c Config) broughtTrail() *broughtTrail {
	if c.TrailLogGroupName == "" {
		return nil
	}
	return &broughtTrail{LogGroupName: c.TrailLogGroupName, BucketName: c.TrailBucketName}
}

func configError(errs []error) error {
	return fmt.Errorf("invalid stack configuration:\n  %w", errors.Join(errs...))
}

// validate checks each setting against what AWS accepts, so that a bad value stops the program
// before anything is created rather than half way through `pulumi up`.
func (c Config) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if addr, err := mail.ParseAddress(c.AlertEmail); err != nil || addr.Address != c.AlertEmail || !strings.Contains(addr.Address[strings.LastIndex(addr.Address, "@"):], ".") {
		bad("alertEmail %q: not an email address; want a plain address such as secops@<your domain>", c.AlertEmail)
	} else if why := placeholderDomain(c.AlertEmail[strings.LastIndex(c.AlertEmail, "@")+1:]); why != "" {
		bad("alertEmail %q: an example address, no alert would reach anyone (%s); set your own", c.AlertEmail, why)
	}
	if c.NATGateways != natSingle && c.NATGateways != natOnePerAZ {
		bad("natGateways %q: allowed values are %q (one NAT gateway, cheaper) and %q (one per availability zone)", c.NATGateways, natSingle, natOnePerAZ)
	}
	if !dbInstanceClassPattern.MatchString(c.DBInstanceClass) {
		bad("dbInstanceClass %q: want an RDS instance class such as db.t4g.micro", c.DBInstanceClass)
	}
	if c.MinCount < 1 {
		bad("minCount %d: must be at least 1 so the service keeps a task behind the load balancer", c.MinCount)
	}
	if c.MinCount > c.MaxCount {
		bad("minCount %d is above maxCount %d: autoscaling needs minCount <= maxCount", c.MinCount, c.MaxCount)
	}
	if c.DesiredCount < c.MinCount || c.DesiredCount > c.MaxCount {
		bad("desiredCount %d: must lie between minCount %d and maxCount %d", c.DesiredCount, c.MinCount, c.MaxCount)
	}
	if c.CertificateARN != "" && !certificateARNPattern.MatchString(c.CertificateARN) {
		bad("certificateArn %q: want an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<uuid>, or leave it empty for HTTP only", c.CertificateARN)
	}
	switch {
	case c.DomainName != "" && (len(c.DomainName) > 253 || !domainNamePattern.MatchString(c.DomainName)):
		bad("domainName %q: want a DNS name in lower case, such as kms.<your domain>", c.DomainName)
	case c.DomainName != "" && placeholderDomain(c.DomainName) != "":
		bad("domainName %q: an example name (%s); set the name your certificate is for", c.DomainName, placeholderDomain(c.DomainName))
	case c.CertificateARN != "" && c.DomainName == "":
		// The ALB's own name (*.elb.amazonaws.com) is on no certificate of yours: clients that check
		// the certificate, curl included, would refuse every connection.
		bad("certificateArn is set but domainName is not: HTTPS needs the name the certificate is for (pulumi config set domainName <name>), " +
			"and a DNS record for it (set hostedZoneId for the stack to create it)")
	}
	if c.HostedZoneID != "" && !hostedZoneIDPattern.MatchString(c.HostedZoneID) {
		bad("hostedZoneId %q: want a Route 53 hosted zone id such as Z1D633PJN98FT9", c.HostedZoneID)
	}
	if c.HostedZoneID != "" && c.DomainName == "" {
		bad("hostedZoneId is set but domainName is not: the stack adds an alias record for domainName in that zone")
	}
	if len(c.AllowedCIDRs) == 0 {
		bad("allowedCidrs: empty; list at least one IPv4 CIDR such as 203.0.113.0/24 (0.0.0.0/0 for everyone)")
	}
	for _, cidr := range c.AllowedCIDRs {
		prefix, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil || !prefix.Addr().Is4():
			bad("allowedCidrs: %q is not an IPv4 CIDR such as 203.0.113.0/24", cidr)
		case prefix.Masked() != prefix:
			bad("allowedCidrs: %q has host bits set; did you mean %s?", cidr, prefix.Masked())
		}
	}
	// Log group names: 1 to 512 of a-z A-Z 0-9 _ - / . #; bucket names: 3 to 63 of a-z 0-9 . -,
	// starting and ending with a letter or digit.
	// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
	if c.TrailLogGroupName != "" && !logGroupNamePattern.MatchString(c.TrailLogGroupName) {
		bad("trailLogGroupName %q: not a CloudWatch Logs group name (1 to 512 of a-z A-Z 0-9 _ - / . #)", c.TrailLogGroupName)
	}
	if c.TrailBucketName != "" && !bucketNamePattern.MatchString(c.TrailBucketName) {
		bad("trailBucketName %q: not an S3 bucket name (3 to 63 of a-z 0-9 . -)", c.TrailBucketName)
	}
	if c.Hunting && c.TrailLogGroupName != "" && c.TrailBucketName == "" {
		bad("hunting is on with a brought trail but trailBucketName is not set: the Athena table reads that trail's bucket (set it, or pulumi config set hunting false)")
	}
	if c.TrailBucketName != "" && c.TrailLogGroupName == "" {
		bad("trailBucketName is set but trailLogGroupName is not: the bucket of a brought trail goes with its log group (the stack's own trail has its own bucket)")
	}
	if !slices.Contains(logRetentionDays, c.LogRetention) {
		bad("logRetentionDays %d: CloudWatch Logs accepts %s", c.LogRetention, joinInts(logRetentionDays))
	}
	errs = append(errs, c.validateHunting()...)
	return append(errs, c.validateResponse()...)
}

// validateHunting checks what the Athena table reads: the brought trail's key layout and key,
// and the accounts and Regions it projects. What needs the stack's own account, Region and
// partition is huntingScope's.
func (c Config) validateHunting() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.TrailOrganizationID != "" && !organizationIDPattern.MatchString(c.TrailOrganizationID) {
		bad("trailOrganizationId %q: not an AWS Organizations id (o- and 10 to 32 lower-case letters or digits, e.g. o-a1b2c3d4e5)", c.TrailOrganizationID)
	}
	if c.TrailOrganizationID != "" && c.TrailBucketName == "" {
		bad("trailOrganizationId is set but trailBucketName is not: the organization id is a folder of a brought organization trail's bucket " +
			"(AWSLogs/<organization id>/<account>/CloudTrail/); the stack's own trail is no organization trail")
	}
	switch {
	case c.TrailKMSKeyARN == "":
	case kmsAliasARNPattern.MatchString(c.TrailKMSKeyARN):
		bad("trailKmsKeyArn %q: an alias; want the key's own ARN, arn:aws:kms:<region>:<account>:key/<key id> (aws kms describe-key --key-id <alias> shows it)", c.TrailKMSKeyARN)
	case !kmsKeyARNPattern.MatchString(c.TrailKMSKeyARN):
		bad("trailKmsKeyArn %q: not a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id>", c.TrailKMSKeyARN)
	}
	if c.TrailKMSKeyARN != "" && c.TrailBucketName == "" {
		bad("trailKmsKeyArn is set but trailBucketName is not: it is the key of a brought trail's files; the stack's own trail's are under " +
			"its audit key, which the hunters' policy names already")
	}
	check := func(key string, values []string, pattern *regexp.Regexp, want string) {
		seen := map[string]bool{}
		for _, v := range values {
			switch {
			case !pattern.MatchString(v):
				bad("%s: %q is not %s", key, v, want)
			case seen[v]:
				bad("%s: %q is listed twice; each is one projected value", key, v)
			}
			seen[v] = true
		}
	}
	check("huntingAccounts", c.HuntingAccounts, accountPattern, "an account id (12 digits)")
	check("huntingRegions", c.HuntingRegions, regionPattern, "a Region name such as eu-west-1")
	if n := len(c.HuntingAccounts); n > maxHuntingAccounts {
		bad("huntingAccounts: %d accounts; at most %d fit the hunters' IAM policy (6,144 characters), which names each account's trail folder", n, maxHuntingAccounts)
	}
	return errs
}

// huntingScope is what the Athena table projects and the hunters may read: the listed accounts
// and Regions, or the stack's own. The stack's account and Region must be among them (its app key
// and task role are there, which the saved queries look for); other accounts need a brought
// trail, as the stack's own trail writes only its account's files; a brought key must be in the
// stack's partition.
func (c Config) huntingScope(env awsEnv, names stackNames) (accounts, regions []string, errs []error) {
	accounts, regions = c.HuntingAccounts, c.HuntingRegions
	if len(accounts) == 0 {
		accounts = []string{env.Account}
	}
	if len(regions) == 0 {
		regions = []string{env.Region}
	}
	if !slices.Contains(regions, env.Region) {
		errs = append(errs, fmt.Errorf("huntingRegions %s leaves out the stack's Region %s, where its key and task role are used: add it",
			strings.Join(regions, ", "), env.Region))
	}
	if !slices.Contains(accounts, env.Account) {
		errs = append(errs, fmt.Errorf("huntingAccounts %s leaves out the stack's account %s, where its key and task role are used: add it",
			strings.Join(accounts, ", "), env.Account))
	}
	if c.TrailBucketName == "" && (len(accounts) > 1 || accounts[0] != env.Account) {
		errs = append(errs, fmt.Errorf("huntingAccounts lists %s, but the stack's own trail writes only account %s's files: "+
			"other accounts need a brought trail that writes theirs (trailLogGroupName, trailBucketName)", strings.Join(accounts, ", "), env.Account))
	}
	if m := kmsKeyARNPattern.FindStringSubmatch(c.TrailKMSKeyARN); m != nil && m[1] != env.Partition {
		errs = append(errs, fmt.Errorf("trailKmsKeyArn %q is in partition %s, the stack in %s: S3 in this partition cannot use it", c.TrailKMSKeyARN, m[1], env.Partition))
	}
	if err := c.huntersPolicyFits(env, names, accounts); err != nil {
		errs = append(errs, err)
	}
	return accounts, regions, errs
}

// huntersPolicyFits renders the hunters' policy with the names known now (the stack's own trail
// bucket, auto-named, at the longest a bucket name can be), so that a policy IAM would refuse at
// `pulumi up` is refused before anything is created.
func (c Config) huntersPolicyFits(env awsEnv, names stackNames, accounts []string) error {
	bucket, trailLogGroup := c.TrailBucketName, c.TrailLogGroupName
	if bucket == "" {
		bucket, trailLogGroup = strings.Repeat("b", 63), names.TrailLogGroup()
	}
	doc := huntersPolicy(env, names, huntersPolicyArgs{
		TrailBucket: bucket, TrailOrganizationID: c.TrailOrganizationID, Accounts: accounts,
		AuditKeyARN: env.arn("kms", "key/00000000-0000-0000-0000-000000000000"), TrailKeyARN: c.TrailKMSKeyARN,
		TrailLogGroup: trailLogGroup, AppLogGroup: names.AppLogGroup(),
	}).JSON()
	if len(doc) > managedPolicyMaxChars {
		return fmt.Errorf("huntingAccounts: the hunters' policy for %d accounts with these names would be %d characters, IAM takes %d: list fewer accounts",
			len(accounts), len(doc), managedPolicyMaxChars)
	}
	return nil
}

// validateResponse checks the responder's settings: containment revokes the task role's
// sessions, so only an alarm about the task role's own calls, or about decrypts of the app key
// that the app did not serve (rules.Rule.CanContain), may trigger it.
func (c Config) validateResponse() []error {
	var errs []error
	if _, err := responder.ParseMode(string(c.Response)); err != nil {
		errs = append(errs, err)
	}
	if len(c.ContainOnRules) == 0 && c.Response != responder.ModeNotify {
		errs = append(errs, fmt.Errorf("containOnRules: empty; name the rules whose alarm contains the task role, e.g. [%q]", "app-decrypt-volume"))
	}
	for _, id := range c.ContainOnRules {
		r, ok := rules.Lookup(id)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("containOnRules: %q is no rule of the rule set (kmswatch rules lists them)", id))
		case !r.CanContain():
			errs = append(errs, fmt.Errorf("containOnRules: %q has no alarm on the task role's own calls nor on decrypts the app did not serve; "+
				"containment revokes that role's sessions, so only such a rule may trigger it", id))
		}
	}
	if c.ContainmentInterval < 1 || c.ContainmentInterval > 1440 {
		errs = append(errs, fmt.Errorf("containmentIntervalMinutes %d: want 1 to 1440 (a day)", c.ContainmentInterval))
	}
	return errs
}

// certificateRegion is the region in the certificate's ARN; an ALB can only use a certificate
// from its own region.
func (c Config) certificateRegion() string {
	m := certificateARNPattern.FindStringSubmatch(c.CertificateARN)
	if m == nil {
		return ""
	}
	return m[2]
}

// Rules returns the shipped rule set with the stack's firing settings applied.
func (c Config) Rules() []rules.Rule {
	out := rules.Default()
	for i, r := range out {
		if f, ok := c.Firing[r.ID]; ok {
			out[i] = r.WithFiring(f)
		}
	}
	return out
}

// dedupe keeps the first of each value, in order: two equal CIDRs would be two rules with one name.
func dedupe(values []string) []string {
	var out []string
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func joinInts(values []int) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// configParser reads raw values and records a type error per setting.
type configParser struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (p *configParser) requiredString(key, hint string) string {
	v, ok := p.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		p.errs = append(p.errs, fmt.Errorf("%s is required: set %s", key, hint))
	}
	return strings.TrimSpace(v)
}

func (p *configParser) string(key string, dst *string) {
	if v, ok := p.lookup(key); ok {
		*dst = strings.TrimSpace(v)
	}
}

func (p *configParser) int(key string, dst *int) {
	v, ok := p.lookup(key)
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s %q: want a whole number", key, v))
		return
	}
	*dst = n
}

func (p *configParser) bool(key string, dst *bool) {
	v, ok := p.lookup(key)
	if !ok {
		return
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s %q: want true or false", key, v))
		return
	}
	*dst = b
}

// stringList reads an array setting, which Pulumi hands over as JSON.
func (p *configParser) stringList(key string, dst *[]string) {
	v, ok := p.lookup(key)
	if !ok {
		return
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		p.errs = append(p.errs, fmt.Errorf(`%s %q: want a list of strings, e.g. ["203.0.113.0/24"]`, key, v))
		return
	}
	*dst = list
}
