package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/responder"
	"github.com/kmswatch/kmswatch/infra/rules"
	"gopkg.in/yaml.v3"
)

func lookupFrom(values map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := values[key]
		return v, ok
	}
}

func TestParseConfigRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string // on top of a valid alertEmail unless it sets one
		want     []string          // every fragment must appear in the error
	}{
		{"alert email missing", map[string]string{"alertEmail": ""}, []string{"alertEmail is required", "pulumi config set alertEmail"}},
		{"alert email without a domain", map[string]string{"alertEmail": "secops"}, []string{`alertEmail "secops"`, "not an email address"}},
		{"alert email with a display name", map[string]string{"alertEmail": "Sec Ops <secops@acme-corp.io>"}, []string{"alertEmail", "plain address"}},
		{"alert email without a dot in the domain", map[string]string{"alertEmail": "secops@localhost"}, []string{"alertEmail"}},
		{"period not a multiple of 60", map[string]string{"appKmsErrorsPeriodSeconds": "90"}, []string{"appKmsErrorsPeriodSeconds 90", "multiple of 60"}},
		{"high-resolution period", map[string]string{"appDecryptDeniedPeriodSeconds": "30"}, []string{"appDecryptDeniedPeriodSeconds 30", "multiple of 60"}},
		{"period not a number", map[string]string{"appKmsErrorsPeriodSeconds": "5m"}, []string{`appKmsErrorsPeriodSeconds "5m"`, "whole number"}},
		{"no evaluation period", map[string]string{"appKmsErrorsEvaluationPeriods": "0"}, []string{"appKmsErrorsEvaluationPeriods 0", "at least 1"}},
		{"alarm window over a day", map[string]string{"appKmsErrorsPeriodSeconds": "3600", "appKmsErrorsEvaluationPeriods": "25"}, []string{"appKmsErrorsPeriodSeconds x appKmsErrorsEvaluationPeriods = 90000", "86400"}},
		{"M above N", map[string]string{"kmsKeyDisableOrDeleteDatapointsToAlarm": "6"}, []string{"kmsKeyDisableOrDeleteDatapointsToAlarm 6", "between 1 and"}},
		{"threshold zero", map[string]string{"appKmsErrorsThreshold": "0"}, []string{"appKmsErrorsThreshold 0", "at least 1"}},
		{"decrypt volume threshold zero", map[string]string{"appDecryptVolumeThreshold": "0"}, []string{"appDecryptVolumeThreshold 0"}},
		{"unknown NAT strategy", map[string]string{"natGateways": "two"}, []string{`natGateways "two"`, `"single"`, `"onePerAz"`}},
		{"instance class without db. prefix", map[string]string{"dbInstanceClass": "t4g.micro"}, []string{`dbInstanceClass "t4g.micro"`, "db.t4g.micro"}},
		{"min above max", map[string]string{"minCount": "3", "maxCount": "2", "desiredCount": "2"}, []string{"minCount 3 is above maxCount 2"}},
		{"desired above max", map[string]string{"desiredCount": "5"}, []string{"desiredCount 5", "between minCount 1 and maxCount 2"}},
		{"min zero", map[string]string{"minCount": "0"}, []string{"minCount 0", "at least 1"}},
		{"certificate ARN with a short account", map[string]string{"certificateArn": "arn:aws:acm:us-east-1:123:certificate/0a1b2c3d-1111-2222-3333-444455556666"}, []string{"certificateArn", "arn:aws:acm:<region>:<account>:certificate/<uuid>"}},
		{"certificate ARN of another service", map[string]string{"certificateArn": "arn:aws:iam::123456789012:server-certificate/web"}, []string{"certificateArn"}},
		{"CIDR with host bits", map[string]string{"allowedCidrs": `["10.1.2.3/16"]`}, []string{`"10.1.2.3/16" has host bits set`, "10.1.0.0/16"}},
		{"IPv6 CIDR", map[string]string{"allowedCidrs": `["::/0"]`}, []string{`"::/0" is not an IPv4 CIDR`}},
		{"CIDR not a CIDR", map[string]string{"allowedCidrs": `["office"]`}, []string{`"office" is not an IPv4 CIDR`}},
		{"CIDRs not a list", map[string]string{"allowedCidrs": "10.0.0.0/8"}, []string{"allowedCidrs", "list of strings"}},
		{"no CIDR at all", map[string]string{"allowedCidrs": `[]`}, []string{"allowedCidrs: empty"}},
		{"retention CloudWatch does not offer", map[string]string{"logRetentionDays": "10"}, []string{"logRetentionDays 10", "1, 3, 5, 7, 14, 30"}},
		{"protect not a boolean", map[string]string{"protect": "yes"}, []string{`protect "yes"`, "true or false"}},
		{"several mistakes reported together", map[string]string{"natGateways": "x", "logRetentionDays": "2"}, []string{"natGateways", "logRetentionDays 2"}},
		// Addresses copied from examples must stop the program, not deploy alerts to nobody.
		{"alert email at example.com", map[string]string{"alertEmail": "secops@example.com"}, []string{"alertEmail", "example address", "RFC 2606"}},
		{"alert email at example.org", map[string]string{"alertEmail": "a@mail.example.org"}, []string{"example address"}},
		{"alert email at example.* elsewhere", map[string]string{"alertEmail": "a@example.co.uk"}, []string{"example address"}},
		{"alert email at yourcompany.com", map[string]string{"alertEmail": "you@yourcompany.com"}, []string{"example address", "placeholder"}},
		{"alert email at .test", map[string]string{"alertEmail": "a@corp.test"}, []string{"example address", ".test"}},
		{"alert email at .invalid", map[string]string{"alertEmail": "a@corp.invalid"}, []string{".invalid"}},
		{"alert email at .localhost", map[string]string{"alertEmail": "a@host.localhost"}, []string{".localhost"}},
		{"alert email at .example", map[string]string{"alertEmail": "a@corp.example"}, []string{".example"}},
		{"alert email upper-case example", map[string]string{"alertEmail": "a@EXAMPLE.COM"}, []string{"example address"}},
		{"HTTPS without a name", map[string]string{"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"},
			[]string{"certificateArn is set but domainName is not", "the name the certificate is for"}},
		{"domain name that is an example", map[string]string{"domainName": "kms.example.com"}, []string{`domainName "kms.example.com"`, "example name"}},
		{"domain name not a name", map[string]string{"domainName": "https://kms.acme-corp.io"}, []string{`domainName "https://kms.acme-corp.io"`, "DNS name"}},
		{"domain name in upper case", map[string]string{"domainName": "KMS.acme-corp.io"}, []string{"lower case"}},
		{"hosted zone without a name", map[string]string{"hostedZoneId": "Z1D633PJN98FT9"}, []string{"hostedZoneId is set but domainName is not"}},
		{"hunting over a brought trail without its bucket", map[string]string{"trailLogGroupName": "/org/trail"}, []string{"trailBucketName is not set", "hunting false"}},
		{"trail bucket without its log group", map[string]string{"trailBucketName": "org-trail-logs"}, []string{"trailBucketName is set but trailLogGroupName is not"}},
		{"trail log group name with spaces", map[string]string{"trailLogGroupName": "my trail"}, []string{`trailLogGroupName "my trail"`}},
		{"trail bucket name in capitals", map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "OrgTrail"}, []string{`trailBucketName "OrgTrail"`}},
		{"hosted zone id malformed", map[string]string{"domainName": "kms.acme-corp.io", "hostedZoneId": "acme-corp.io"}, []string{`hostedZoneId "acme-corp.io"`}},
		// What the Athena table projects, and a brought trail's layout and key.
		{"hunting Region misspelt", map[string]string{"huntingRegions": `["eu-west-1","euwest1"]`}, []string{`huntingRegions: "euwest1" is not a Region name`}},
		{"hunting Region in capitals", map[string]string{"huntingRegions": `["EU-WEST-1"]`}, []string{`huntingRegions: "EU-WEST-1"`}},
		{"hunting Region twice", map[string]string{"huntingRegions": `["eu-west-1","us-east-1","eu-west-1"]`}, []string{`huntingRegions: "eu-west-1" is listed twice`}},
		{"hunting Regions not a list", map[string]string{"huntingRegions": "eu-west-1"}, []string{"huntingRegions", "list of strings"}},
		{"hunting account too short", map[string]string{"huntingAccounts": `["12345678901"]`}, []string{`huntingAccounts: "12345678901" is not an account id (12 digits)`}},
		{"hunting account twice", map[string]string{"huntingAccounts": `["123456789012","123456789012"]`}, []string{`huntingAccounts: "123456789012" is listed twice`}},
		{"more hunting accounts than the policy holds", map[string]string{"huntingAccounts": accountList(maxHuntingAccounts + 1)}, []string{"huntingAccounts: 13 accounts; at most 12", "6,144"}},
		{"organization id malformed", map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "org-trail-logs", "trailOrganizationId": "o-ABC123DEF4"}, []string{`trailOrganizationId "o-ABC123DEF4"`, "o- and 10 to 32"}},
		{"organization id too short", map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "org-trail-logs", "trailOrganizationId": "o-abc"}, []string{`trailOrganizationId "o-abc"`}},
		{"organization id without a brought bucket", map[string]string{"trailOrganizationId": "o-a1b2c3d4e5"}, []string{"trailOrganizationId is set but trailBucketName is not", "no organization trail"}},
		{"trail key given as an alias", map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "org-trail-logs", "trailKmsKeyArn": "arn:aws:kms:eu-west-1:111122223333:alias/org-trail"}, []string{"trailKmsKeyArn", "an alias", "key's own ARN"}},
		{"trail key not a key ARN", map[string]string{"trailLogGroupName": "/org/trail", "trailBucketName": "org-trail-logs", "trailKmsKeyArn": "1234abcd-12ab-34cd-56ef-1234567890ab"}, []string{`trailKmsKeyArn "1234abcd-12ab-34cd-56ef-1234567890ab": not a KMS key ARN`}},
		{"trail key without a brought bucket", map[string]string{"trailKmsKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, []string{"trailKmsKeyArn is set but trailBucketName is not", "audit key"}},
		{"hunting mistakes reported together", map[string]string{"huntingRegions": `["x"]`, "huntingAccounts": `["y"]`, "trailOrganizationId": "o-", "trailKmsKeyArn": "k"},
			[]string{`huntingRegions: "x"`, `huntingAccounts: "y"`, `trailOrganizationId "o-"`, "trailOrganizationId is set but", `trailKmsKeyArn "k"`, "trailKmsKeyArn is set but"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := map[string]string{"alertEmail": "secops@acme-corp.io"}
			for k, v := range tt.settings {
				settings[k] = v
			}
			_, err := parseConfig(lookupFrom(settings))
			if err == nil {
				t.Fatalf("settings %v: want an error", tt.settings)
			}
			for _, fragment := range tt.want {
				if !strings.Contains(err.Error(), fragment) {
					t.Errorf("error does not mention %q:\n%v", fragment, err)
				}
			}
		})
	}
}

func TestParseConfigAcceptsAFullValidStack(t *testing.T) {
	cfg, err := parseConfig(lookupFrom(map[string]string{
		"alertEmail":                    "secops@acme-corp.io",
		"appKmsErrorsPeriodSeconds":     "300",
		"appKmsErrorsEvaluationPeriods": "3",
		"appKmsErrorsThreshold":         "5",
		"appDecryptVolumeThreshold":     "50",
		"natGateways":                   "onePerAz",
		"dbInstanceClass":               "db.r6g.large",
		"desiredCount":                  "2",
		"minCount":                      "2",
		"maxCount":                      "6",
		"certificateArn":                "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
		"domainName":                    "kms.acme-corp.io",
		"hostedZoneId":                  "Z1D633PJN98FT9",
		"allowedCidrs":                  `["203.0.113.0/24","198.51.100.7/32","203.0.113.0/24"]`,
		"logRetentionDays":              "365",
		"protect":                       "true",
		"hunting":                       "false",
		"response":                      "contain",
		"containOnRules":                `["app-decrypt-volume","app-kms-errors","app-decrypt-volume"]`,
		"containmentIntervalMinutes":    "30",
	}))
	if err != nil {
		t.Fatal(err)
	}
	firing := defaultConfig().Firing
	lab, volume := firing["app-kms-errors"], firing["app-decrypt-volume"]
	lab.Period, lab.EvaluationPeriods, lab.Threshold = 5*time.Minute, 3, 5
	volume.Threshold = 50
	firing["app-kms-errors"], firing["app-decrypt-volume"] = lab, volume
	want := Config{
		AlertEmail: "secops@acme-corp.io", Firing: firing, NATGateways: natOnePerAZ, DBInstanceClass: "db.r6g.large",
		DesiredCount: 2, MinCount: 2, MaxCount: 6,
		CertificateARN: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
		DomainName:     "kms.acme-corp.io", HostedZoneID: "Z1D633PJN98FT9",
		// A CIDR listed twice is kept once: two rules with one name would fail the deployment.
		AllowedCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"}, LogRetention: 365, Protect: true,
		Response: responder.ModeContain, ContainOnRules: []string{"app-decrypt-volume", "app-kms-errors"}, ContainmentInterval: 30,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if got := cfg.certificateRegion(); got != "eu-west-1" {
		t.Errorf("certificate region %q, want eu-west-1", got)
	}
}

// accountList is n distinct account ids as a JSON list, the stack's first.
func accountList(n int) string {
	ids := []string{mockAccount}
	for i := 1; i < n; i++ {
		ids = append(ids, fmt.Sprintf("%012d", 100000000000+i))
	}
	out, _ := json.Marshal(ids)
	return string(out)
}

func TestParseConfigAcceptsABroughtOrganizationTrailToHuntOver(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
	cfg, err := parseConfig(lookupFrom(map[string]string{
		"alertEmail": "secops@acme-corp.io", "trailLogGroupName": "aws-controltower/CloudTrailLogs", "trailBucketName": "aws-controltower-logs-111122223333-us-east-1",
		"trailOrganizationId": "o-a1b2c3d4e5", "trailKmsKeyArn": key,
		"huntingRegions": `["eu-west-1","us-east-1"]`, "huntingAccounts": `["123456789012","111122223333"]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TrailOrganizationID != "o-a1b2c3d4e5" || cfg.TrailKMSKeyARN != key ||
		!reflect.DeepEqual(cfg.HuntingRegions, []string{"eu-west-1", "us-east-1"}) || !reflect.DeepEqual(cfg.HuntingAccounts, []string{"123456789012", "111122223333"}) {
		t.Errorf("got %+v", cfg)
	}
	// [] is the stack's own, as unset is.
	empty, err := parseConfig(lookupFrom(map[string]string{"alertEmail": "secops@acme-corp.io", "huntingRegions": "[]", "huntingAccounts": "[]"}))
	if err != nil || empty.HuntingRegions != nil || empty.HuntingAccounts != nil {
		t.Errorf("empty lists: %+v, %v", empty, err)
	}
}

// The firing in the stack config is the rules' own unless set; Config.Rules applies it.
func TestConfigRulesApplyTheStackFiring(t *testing.T) {
	cfg, err := parseConfig(lookupFrom(map[string]string{
		"alertEmail": "secops@acme-corp.io", "appKmsErrorsPeriodSeconds": "300", "appKmsErrorsEvaluationPeriods": "3",
		"appKmsErrorsThreshold": "7", "appDecryptVolumeThreshold": "40",
	}))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range cfg.Rules() {
		seen[r.ID] = true
		if err := r.Firing.Validate(); err != nil {
			t.Errorf("rule %s: firing %v: %v", r.ID, r.Firing, err)
		}
		own, _ := rules.Lookup(r.ID)
		switch r.ID {
		case "app-kms-errors":
			if a := r.Alarm(rules.Params{}); a.PeriodSeconds != 300 || a.EvaluationPeriods != 3 || a.Threshold != 7 || a.DatapointsToAlarm != own.Firing.Datapoints() {
				t.Errorf("lab alarm %+v, want period 300, 3 periods, threshold 7 and the rule's own M", a)
			}
		case "app-decrypt-volume":
			if a := r.Alarm(rules.Params{}); a.Threshold != 40 || a.PeriodSeconds != int(own.Firing.Period.Seconds()) {
				t.Errorf("volume alarm %+v, want threshold 40 and the rule's own period", a)
			}
		default:
			if !reflect.DeepEqual(r.Firing, own.Firing) {
				t.Errorf("rule %s: firing %v changed, want the rule's own %v", r.ID, r.Firing, own.Firing)
			}
		}
	}
	for _, id := range []string{"app-kms-errors", "app-decrypt-volume"} {
		if !seen[id] {
			t.Errorf("rule %s is not in the rule set", id)
		}
	}
}

// projectFile is the part of Pulumi.yaml this test reads.
type projectFile struct {
	Name    string `yaml:"name"`
	Runtime string `yaml:"runtime"`
	Main    string `yaml:"main"`
	Config  map[string]struct {
		Type        string `yaml:"type"`
		Description string `yaml:"description"`
		Default     any    `yaml:"default"`
		Items       *struct {
			Type string `yaml:"type"`
		} `yaml:"items"`
	} `yaml:"config"`
}

func readProjectFile(t *testing.T) projectFile {
	t.Helper()
	raw, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p projectFile
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatalf("Pulumi.yaml: %v", err)
	}
	return p
}

// configValue spells a YAML value the way Pulumi hands it to the program: scalars as text,
// arrays as JSON.
func configValue(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case []any:
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	default:
		return fmt.Sprint(v)
	}
}

// Pulumi.yaml must declare every setting the program reads, typed and described, and its
// defaults must be the program's own: the CLI applies them before the program runs.
func TestPulumiYAMLDeclaresEverySettingWithTheProgramsDefaults(t *testing.T) {
	p := readProjectFile(t)
	if p.Name != "kmswatch" || p.Runtime != "go" || p.Main != "infra/" {
		t.Errorf("project %q runtime %q main %q, want kmswatch, go, infra/", p.Name, p.Runtime, p.Main)
	}
	read := map[string]bool{}
	_, _ = parseConfig(func(key string) (string, bool) { read[key] = true; return "", false })
	for key := range read {
		decl, ok := p.Config[key]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", key)
			continue
		}
		if decl.Type == "" || strings.TrimSpace(decl.Description) == "" {
			t.Errorf("%s: want a type and a description, got %q / %q", key, decl.Type, decl.Description)
		}
		if decl.Type == "array" && (decl.Items == nil || decl.Items.Type != "string") {
			t.Errorf("%s: an array setting needs items of type string", key)
		}
	}
	for key := range p.Config {
		if !read[key] {
			t.Errorf("Pulumi.yaml declares %s, which the program never reads", key)
		}
	}
	if p.Config["alertEmail"].Default != nil {
		t.Error("alertEmail must have no default: the CLI then refuses a stack without it")
	}

	defaults := map[string]string{"alertEmail": "secops@acme-corp.io"}
	for key, decl := range p.Config {
		if decl.Default != nil {
			defaults[key] = configValue(t, decl.Default)
		}
	}
	got, err := parseConfig(lookupFrom(defaults))
	if err != nil {
		t.Fatalf("Pulumi.yaml defaults are invalid: %v", err)
	}
	want := defaultConfig()
	want.AlertEmail = "secops@acme-corp.io"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pulumi.yaml defaults give\n  %+v\nthe program's defaults are\n  %+v", got, want)
	}
}

func TestDevStackConfigIsValid(t *testing.T) {
	raw, err := os.ReadFile("../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var stack struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &stack); err != nil {
		t.Fatalf("Pulumi.dev.yaml: %v", err)
	}
	if region, _ := stack.Config["aws:region"].(string); region == "" {
		t.Error("Pulumi.dev.yaml sets no aws:region")
	}
	values := map[string]string{}
	for key, v := range stack.Config {
		if name, ok := strings.CutPrefix(key, "kmswatch:"); ok {
			values[name] = configValue(t, v)
		}
	}
	// A fresh clone must not deploy alerts to an address nobody reads: the file sets none, and
	// the program asks for one (ALERT_EMAIL=... make up). With one given, the file is valid.
	if email, ok := values["alertEmail"]; ok {
		t.Errorf("Pulumi.dev.yaml sets alertEmail %q; a clone must set its own", email)
	}
	if _, err := parseConfig(lookupFrom(values)); err == nil || !strings.Contains(err.Error(), "alertEmail is required") {
		t.Errorf("Pulumi.dev.yaml without an address: want alertEmail required, got %v", err)
	}
	values["alertEmail"] = "secops@acme-corp.io"
	if _, err := parseConfig(lookupFrom(values)); err != nil {
		t.Errorf("Pulumi.dev.yaml: %v", err)
	}
	project := readProjectFile(t)
	for key := range values {
		if _, ok := project.Config[key]; !ok {
			t.Errorf("Pulumi.dev.yaml sets kmswatch:%s, which Pulumi.yaml does not declare", key)
		}
	}
}

func TestPlaceholderDomainLetsRealNamesThrough(t *testing.T) {
	for _, d := range []string{"acme-corp.io", "mail.google.com", "examples.com", "counterexample.org", "company.co", "testing.io", "mycompany.io"} {
		if why := placeholderDomain(d); why != "" {
			t.Errorf("placeholderDomain(%q) = %q, want a real name let through", d, why)
		}
	}
}
