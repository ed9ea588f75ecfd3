package rules

import (
	"strconv"
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

// An adaptive rule has a fifth setting, its anomaly band; the default, 0, keeps the threshold.
func TestAnomalyBandIsASettingOfTheAdaptiveRulesOnly(t *testing.T) {
	got, err := ApplySettings(Default(), lookupMap(map[string]string{
		"appKeyDecryptRateAnomalyBand": "2", "appDecryptVolumeAnomalyBand": " 1.5 ",
		"appKmsErrorsAnomalyBand": "3", // not adaptive: not read
	}))
	if err != nil {
		t.Fatal(err)
	}
	bands := map[string]float64{}
	for _, r := range got {
		bands[r.ID] = r.Firing.AnomalyBand
	}
	if bands["app-key-decrypt-rate"] != 2 || bands["app-decrypt-volume"] != 1.5 || bands["app-kms-errors"] != 0 {
		t.Errorf("bands %v", bands)
	}
	for _, r := range got {
		a := r.Alarm(Params{})
		switch {
		case r.Firing.AnomalyBand > 0 && (a.ComparisonOperator != "GreaterThanUpperThreshold" || a.ThresholdMetricID != "band"):
			t.Errorf("%s: band %g but alarm %+v", r.ID, r.Firing.AnomalyBand, a)
		case r.Firing.AnomalyBand == 0 && !r.Firing.Immediate && (a.ComparisonOperator != "GreaterThanOrEqualToThreshold" || a.ThresholdMetricID != ""):
			t.Errorf("%s: no band but alarm %+v", r.ID, a)
		}
	}
	var adaptive []string
	for _, r := range Default() {
		if r.Adaptive() {
			adaptive = append(adaptive, r.ID)
		}
		if r.Firing.AnomalyBand != 0 {
			t.Errorf("%s ships with an anomaly band: the fixed threshold is the default", r.ID)
		}
	}
	if strings.Join(adaptive, ",") != "app-decrypt-volume,app-key-decrypt-rate" {
		t.Errorf("adaptive rules %v, want the two volume rules", adaptive)
	}
}

func TestAnomalyBandSettingNamesABadValue(t *testing.T) {
	for _, raw := range []string{"-1", "wide", "NaN", "+Inf"} {
		_, err := ApplySettings(Default(), lookupMap(map[string]string{"appKeyDecryptRateAnomalyBand": raw}))
		if err == nil || !strings.Contains(err.Error(), "appKeyDecryptRateAnomalyBand "+strconv.Quote(raw)+": want a number of standard deviations above 0") {
			t.Errorf("%q: %v", raw, err)
		}
	}
	if err := (Firing{Period: time.Minute, EvaluationPeriods: 1, Threshold: 1, AnomalyBand: -2}).Validate(); err == nil {
		t.Error("a negative band validated")
	}
}
