package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeStack lays out a project file and a stack file as a clone has them.
func writeStack(t *testing.T, project, stack string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "Pulumi.prod.yaml")
	if err := os.WriteFile(path, []byte(stack), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRulesReadTheStacksFiring(t *testing.T) {
	stack := writeStack(t,
		"name: kmswatch\nconfig:\n  appDecryptDeniedThreshold:\n    type: integer\n    default: 7\n",
		"config:\n  aws:region: eu-west-1\n  kmswatch:appDecryptVolumeThreshold: 1500\n  kmswatch:appDecryptVolumePeriodSeconds: \"600\"\n")
	r := runCLI("rules", "--stack-config", stack, "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		// the stack file's values, and the project's default where the stack sets none
		`"PeriodSeconds":600,"EvaluationPeriods":5,"DatapointsToAlarm":1,"Threshold":1500`, `"Threshold":7`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rules --stack-config output lacks %s:\n%s", want, r.stdout)
		}
	}
}

// The repository's own stack file is what make up deploys: rules must read it as the stack does.
func TestRulesReadTheRepositorysDevStack(t *testing.T) {
	r := runCLI("rules", "--stack-config", "../../../Pulumi.dev.yaml")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

func TestRulesRefuseABadStackSetting(t *testing.T) {
	stack := writeStack(t, "name: kmswatch\n", "config:\n  kmswatch:appKmsErrorsPeriodSeconds: 90\n")
	r := runCLI("rules", "--stack-config", stack)
	if r.code != exitUsage || !strings.Contains(r.stderr, "appKmsErrorsPeriodSeconds 90: CloudWatch accepts a multiple of 60") {
		t.Errorf("exit %d, stderr %q: want exit 2 naming the setting", r.code, r.stderr)
	}
	r = runCLI("rules", "--stack-config", filepath.Join(t.TempDir(), "Pulumi.none.yaml"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("exit %d, stderr %q: want exit 2 naming the missing file", r.code, r.stderr)
	}
}
