package rules

import (
	"strings"
	"testing"
	"time"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSettingNamesFollowTheRuleIDs(t *testing.T) {
	for _, tc := range []struct{ id, field, want string }{
		{"app-kms-errors", SettingThreshold, "appKmsErrorsThreshold"},
		{"app-decrypt-volume", SettingPeriodSeconds, "appDecryptVolumePeriodSeconds"},
		{"kms-key-disable-or-delete", SettingDatapointsToAlarm, "kmsKeyDisableOrDeleteDatapointsToAlarm"},
	} {
		if got := SettingName(tc.id, tc.field); got != tc.want {
			t.Errorf("SettingName(%q, %q) = %q, want %q", tc.id, tc.field, got, tc.want)
		}
	}
}

func TestApplySettingsWithoutSettingsKeepsTheRules(t *testing.T) {
	got, err := ApplySettings(Default(), lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range Default() {
		if got[i].Firing != r.Firing {
			t.Errorf("%s: firing %+v, want the rule's own %+v", r.ID, got[i].Firing, r.Firing)
		}
	}
}

func TestApplySettingsSetsEachField(t *testing.T) {
	got, err := ApplySettings(Default(), lookupMap(map[string]string{
		"appDecryptVolumeThreshold": "1500", "appDecryptVolumePeriodSeconds": "600",
		"appDecryptVolumeEvaluationPeriods": "3", "appDecryptVolumeDatapointsToAlarm": "2",
		"appKmsErrorsThreshold": " 4 ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Firing{}
	for _, r := range got {
		byID[r.ID] = r.Firing
	}
	if f := byID["app-decrypt-volume"]; f != (Firing{Period: 10 * time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 1500}) {
		t.Errorf("app-decrypt-volume firing %+v", f)
	}
	lab, _ := Lookup("app-kms-errors")
	if f := byID["app-kms-errors"]; f.Threshold != 4 || f.Period != lab.Firing.Period || f.EvaluationPeriods != lab.Firing.EvaluationPeriods {
		t.Errorf("app-kms-errors firing %+v: want only the threshold changed", f)
	}
	if f := byID["kms-key-policy-change"]; !f.Immediate {
		t.Errorf("an EventBridge rule's firing changed: %+v", f)
	}
}

func TestApplySettingsNamesEveryBadKey(t *testing.T) {
	_, err := ApplySettings(Default(), lookupMap(map[string]string{
		"appKmsErrorsPeriodSeconds":              "90",
		"appDecryptVolumeThreshold":              "0",
		"appDecryptDeniedEvaluationPeriods":      "many",
		"kmsKeyDisableOrDeleteDatapointsToAlarm": "9", // N is 5
		"appKmsErrorsEvaluationPeriods":          "2000",
	}))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"appKmsErrorsPeriodSeconds 90: CloudWatch accepts a multiple of 60",
		"appDecryptVolumeThreshold 0: must be at least 1",
		`appDecryptDeniedEvaluationPeriods "many": want a whole number`,
		"kmsKeyDisableOrDeleteDatapointsToAlarm 9: must lie between 1 and kmsKeyDisableOrDeleteEvaluationPeriods (5)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
