package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// KeyRefKind is the form a KMS key is named in.
type KeyRefKind int

const (
	KeyARN    KeyRefKind = iota // arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
	KeyID                       // 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk-... for a multi-Region key
	AliasName                   // alias/ExampleAlias
	AliasARN                    // arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias
)

// KeyRef is a KMS key named in one of the four forms KMS accepts for KeyId.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html#KMS-DescribeKey-request-KeyId
type KeyRef struct {
	Kind                       KeyRefKind
	Partition, Region, Account string // for the ARN forms
	Name                       string // the key id, or the alias name without "alias/"
}

var (
	keyIDPattern = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	// Alias names: "alias/" then letters, digits, '/', '_' and '-', 256 characters in all.
	// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html#KMS-CreateAlias-request-AliasName
	aliasPattern   = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// Partitions: aws, aws-cn, aws-us-gov and the isolated ones.
	partitionPattern = regexp.MustCompile(`^aws(-[a-z]+)*$`)
)

// ParseKeyRef reads a key ARN, key id, alias name or alias ARN.
func ParseKeyRef(s string) (KeyRef, error) {
	switch {
	case keyIDPattern.MatchString(s):
		return KeyRef{Kind: KeyID, Name: s}, nil
	case strings.HasPrefix(s, "alias/"):
		if !aliasPattern.MatchString(s) {
			return KeyRef{}, fmt.Errorf("%q: an alias name is alias/ and then letters, digits, '/', '_' or '-'", s)
		}
		return KeyRef{Kind: AliasName, Name: strings.TrimPrefix(s, "alias/")}, nil
	case strings.HasPrefix(s, "arn:"):
		parts := strings.SplitN(s, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return KeyRef{}, fmt.Errorf("%q: a KMS ARN is arn:PARTITION:kms:REGION:ACCOUNT:key/ID or :alias/NAME", s)
		}
		k := KeyRef{Partition: parts[1], Region: parts[3], Account: parts[4]}
		if err := checkPlace(k.Partition, k.Region, k.Account); err != nil {
			return KeyRef{}, fmt.Errorf("%q: %w", s, err)
		}
		switch res := parts[5]; {
		case strings.HasPrefix(res, "key/") && keyIDPattern.MatchString(strings.TrimPrefix(res, "key/")):
			k.Kind, k.Name = KeyARN, strings.TrimPrefix(res, "key/")
		case strings.HasPrefix(res, "alias/") && aliasPattern.MatchString(res):
			k.Kind, k.Name = AliasARN, strings.TrimPrefix(res, "alias/")
		default:
			return KeyRef{}, fmt.Errorf("%q: the resource is neither key/ID (a key id is like 1234abcd-12ab-34cd-56ef-1234567890ab) nor alias/NAME", s)
		}
		return k, nil
	}
	return KeyRef{}, fmt.Errorf("%q: want a key ARN, a key id (1234abcd-12ab-34cd-56ef-1234567890ab), an alias name (alias/NAME) or an alias ARN", s)
}

func checkPlace(partition, region, account string) error {
	switch {
	case !partitionPattern.MatchString(partition):
		return fmt.Errorf("partition %q is not one like aws, aws-cn or aws-us-gov", partition)
	case !regionPattern.MatchString(region):
		return fmt.Errorf("region %q is not one like us-east-1", region)
	case !accountPattern.MatchString(account):
		return fmt.Errorf("account %q is not 12 digits", account)
	}
	return nil
}

// CheckAccount and CheckRegion refuse values that no record can carry.
func CheckAccount(a string) error {
	if !accountPattern.MatchString(a) {
		return fmt.Errorf("%q: an AWS account id is 12 digits", a)
	}
	return nil
}

func CheckRegion(r string) error {
	if !regionPattern.MatchString(r) {
		return fmt.Errorf("%q: want a Region code like us-east-1", r)
	}
	return nil
}

// PartitionOf is the partition of a Region's ARNs.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// KeyScope turns key references into Params fields, making the ARN of a bare key id when the
// account and Region are given. Notes say, for a person, what could not be resolved offline and
// how it is matched instead.
func KeyScope(refs []KeyRef, account, region string) (p Params, notes []string) {
	for _, k := range refs {
		switch k.Kind {
		case KeyARN:
			p.KeyARNs = append(p.KeyARNs, fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", k.Partition, k.Region, k.Account, k.Name))
		case AliasARN:
			p.KeyAliases = append(p.KeyAliases, fmt.Sprintf("arn:%s:kms:%s:%s:alias/%s", k.Partition, k.Region, k.Account, k.Name))
		case AliasName:
			p.KeyAliases = append(p.KeyAliases, "alias/"+k.Name)
		case KeyID:
			if account != "" && region != "" {
				arn := fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", PartitionOf(region), region, account, k.Name)
				p.KeyARNs = append(p.KeyARNs, arn)
				notes = append(notes, fmt.Sprintf("key id %s: matched as %s", k.Name, arn))
				continue
			}
			p.KeyIDs = append(p.KeyIDs, k.Name)
			notes = append(notes, fmt.Sprintf("key id %s: without --account and --region it has no ARN; matched as the id a call names and as any key ARN ending in key/%s, in every account and Region", k.Name, k.Name))
		}
	}
	for _, k := range refs {
		if k.Kind != AliasName && k.Kind != AliasARN {
			continue
		}
		note := fmt.Sprintf("alias/%s: matched where a call names the alias (requestParameters.keyId or aliasName, or the alias ARN in resources)", k.Name)
		if k.Kind == AliasName && len(p.KeyARNs) == 0 {
			note += ", in every account and Region"
		}
		notes = append(notes, note+"; which key it points to cannot be resolved offline, so calls naming that key by id or ARN match only if the key is given too")
	}
	return p, notes
}

// RoleScope reads the app's task role as a role ARN or as an assumed-role session ARN, which
// stands for the role: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION is role NAME. It returns the
// role ARN the rules compare with userIdentity.sessionContext.sessionIssuer.arn, and a note when
// it was made from a session ARN.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
func RoleScope(s string) (roleARN, note string, err error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[3] != "" || !partitionPattern.MatchString(parts[1]) || !accountPattern.MatchString(parts[4]) {
		return "", "", fmt.Errorf("%q: want a role ARN (arn:aws:iam::ACCOUNT:role/NAME) or an assumed-role session ARN (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION)", s)
	}
	partition, account, res := parts[1], parts[4], parts[5]
	name := func(n string) bool { return n != "" && !strings.ContainsAny(n, " \t*") }
	switch parts[2] {
	case "iam":
		path := strings.Split(res, "/")
		if len(path) >= 2 && path[0] == "role" && name(path[len(path)-1]) {
			return s, "", nil
		}
	case "sts":
		session := strings.Split(res, "/")
		if len(session) == 3 && session[0] == "assumed-role" && name(session[1]) && name(session[2]) {
			roleARN = fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, session[1])
			return roleARN, fmt.Sprintf("--role-arn is a session of role %s: matched as %s (a role with a path needs its role ARN)", session[1], roleARN), nil
		}
	}
	return "", "", fmt.Errorf("%q: want a role ARN (arn:aws:iam::ACCOUNT:role/NAME) or an assumed-role session ARN (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION)", s)
}
