package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

var rehearsalStart = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func mustRehearse(t *testing.T, wrongKeys int) *rehearsal {
	t.Helper()
	return mustRehearseLate(t, wrongKeys, defaultDeliveryDelay)
}

func mustRehearseLate(t *testing.T, wrongKeys int, delay time.Duration) *rehearsal {
	t.Helper()
	reh, err := rehearse(wrongKeys, rehearsalStart, delay)
	if err != nil {
		t.Fatal(err)
	}
	if reh.failed {
		t.Fatalf("scenario steps went wrong: %+v", reh.steps)
	}
	return reh
}

func transitions(reh *rehearsal, id string) string {
	for i, r := range reh.result.Rules {
		if r.ID != id {
			continue
		}
		var parts []string
		for _, tr := range reh.result.Evaluations[i].Transitions {
			parts = append(parts, fmt.Sprintf("%s->%s@%s", tr.From, tr.To, tr.At.Format("15:04")))
		}
		return strings.Join(parts, " ")
	}
	return "no such rule"
}

func TestRehearseTripsTheLabAlarm(t *testing.T) {
	reh := mustRehearse(t, 5)
	counts := map[string]int{}
	for i, n := range reh.result.Counts() {
		counts[reh.result.Rules[i].ID] = n
	}
	want := map[string]int{"app-kms-errors": 5, "app-decrypt-denied": 5, "app-decrypt-volume": 1, "kms-key-disable-or-delete": 0, "kms-key-policy-change": 0}
	for id, n := range want {
		if counts[id] != n {
			t.Errorf("%s matched %d records, want %d", id, counts[id], n)
		}
	}
	// The errors of 10:00 reach CloudWatch Logs at 10:05 (the default delay): the 10:06 evaluation
	// sees them; OK follows once 10:00 has left the 21 one-minute (five five-minute) periods.
	if got := transitions(reh, "app-kms-errors"); got != "OK->ALARM@10:06 ALARM->OK@10:22" {
		t.Errorf("app-kms-errors transitions = %q", got)
	}
	if got := transitions(reh, "app-decrypt-denied"); got != "OK->ALARM@10:06 ALARM->OK@10:26" {
		t.Errorf("app-decrypt-denied transitions = %q", got)
	}
	if len(reh.emails) == 0 || reh.emails[0].subject != `ALARM: "kmswatch-dev-app-kms-errors" in US East (N. Virginia)` {
		t.Fatalf("emails = %+v", reh.emails)
	}
	if !strings.Contains(reh.emails[0].body, "[5.0 (24/11/26 10:00:00)] was greater than or equal to the threshold (2.0)") {
		t.Errorf("email body:\n%s", reh.emails[0].body)
	}
}

// Each log rule that the scenario trips fires when the logs arrive 0, 6 or 15 minutes late, at the
// first evaluation after they arrived, and misses them when they arrive after its tolerance.
func TestRehearseFiresOnLateLogs(t *testing.T) {
	for _, tc := range []struct {
		delay     time.Duration
		kmsErrors string
		denied    string
	}{
		{0, "OK->ALARM@10:01 ALARM->OK@10:22", "OK->ALARM@10:01 ALARM->OK@10:26"},
		{6 * time.Minute, "OK->ALARM@10:07 ALARM->OK@10:22", "OK->ALARM@10:07 ALARM->OK@10:26"},
		{15 * time.Minute, "OK->ALARM@10:16 ALARM->OK@10:22", "OK->ALARM@10:16 ALARM->OK@10:26"},
		{25 * time.Minute, "", ""},
	} {
		reh := mustRehearseLate(t, 5, tc.delay)
		if got := transitions(reh, "app-kms-errors"); got != tc.kmsErrors {
			t.Errorf("%s late: app-kms-errors transitions = %q, want %q", tc.delay, got, tc.kmsErrors)
		}
		if got := transitions(reh, "app-decrypt-denied"); got != tc.denied {
			t.Errorf("%s late: app-decrypt-denied transitions = %q, want %q", tc.delay, got, tc.denied)
		}
	}
}

func TestRehearseBelowThresholdStaysOK(t *testing.T) {
	reh := mustRehearse(t, 1)
	for i, r := range reh.result.Rules {
		if n := len(reh.result.Evaluations[i].Transitions); n != 0 {
			t.Errorf("%s: %d transitions after one wrong key", r.ID, n)
		}
	}
	if len(reh.emails) != 0 {
		t.Errorf("emails sent: %+v", reh.emails)
	}
}

// TestMatcherOnDoubleRecords runs the rules on the CloudTrail records the KMS double wrote during
// the app's real calls: each record matches what its call should.
func TestMatcherOnDoubleRecords(t *testing.T) {
	reh := mustRehearse(t, 2)
	if len(reh.trail) != 4 {
		t.Fatalf("%d records, want Encrypt, Decrypt and two failed Decrypts", len(reh.trail))
	}
	m := rules.NewMatcher(rules.Default(), rules.Params{TaskRoleARN: rehearsalRole})
	other := rules.NewMatcher(rules.Default(), rules.Params{TaskRoleARN: "arn:aws:iam::111122223333:role/someone-else"})
	// A served Decrypt is also a candidate of the offline join, which replay then finds served.
	want := []string{"", "app-decrypt-volume,app-decrypt-unmatched", "app-kms-errors", "app-kms-errors"}
	for i, raw := range reh.trail {
		rec, err := rules.ParseRecord(raw)
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, raw)
		}
		var got []string
		for _, k := range m.Match(rec, nil) {
			got = append(got, m.Rules()[k].ID)
		}
		if strings.Join(got, ",") != want[i] {
			t.Errorf("record %d matched %v, want %q\n%s", i, got, want[i], raw)
		}
		if hits := other.Match(rec, nil); len(hits) != 0 {
			t.Errorf("record %d matched %d rules with another task role", i, len(hits))
		}
		sum, err := rec.Summarize()
		if err != nil || sum.EventTime.Before(rehearsalStart) || !strings.Contains(sum.Principal, "kmswatch-rehearsal-task") {
			t.Errorf("record %d summary = %+v, %v", i, sum, err)
		}
	}
}

func TestRehearseCommand(t *testing.T) {
	r := runCLI("rehearse")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"(x5)", "[as expected]", "OK -> ALARM", `Subject: ALARM: "kmswatch-dev-app-kms-errors"`, "Then, from SNS: Subject: OK:",
		"reaches CloudWatch Logs 5m after it was written", "20m late"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`app-kms-errors .* OK -> ALARM at \d\d:\d\d:00 \(data of \d\d:\d\d, delivered 5m late\)`),
		regexp.MustCompile(`app-decrypt-denied .* OK -> ALARM at \d\d:\d\d:00 \(data of \d\d:\d\d-\d\d:\d\d, delivered 5m late\)`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("output does not match %s:\n%s", want, r.stdout)
		}
	}
	r = runCLI("rehearse", "--delivery-delay", "25m")
	if r.code != exitOK || strings.Contains(r.stdout, "OK -> ALARM") || !strings.Contains(r.stdout, "Missed: app-kms-errors: its events reached the threshold, but arrived 25m late") {
		t.Errorf("25m late: exit %d, output:\n%s", r.code, r.stdout)
	}
	r = runCLI("rehearse", "--json", "--wrong-keys", "3", "--delivery-delay", "15m")
	types := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		types[fmt.Sprint(v["type"])]++
		if v["type"] == "transition" && v["deliveryDelay"] != "15m0s" {
			t.Errorf("transition without its delivery delay: %v", v)
		}
	}
	if types["step"] != 5 || types["transition"] != 2 || types["notification"] != 2 {
		t.Errorf("line types = %v, want 5 steps and app-kms-errors' 2 transitions and emails", types)
	}
}

func TestRehearseRejectsABadDeliveryDelay(t *testing.T) {
	for _, arg := range []string{"-1m", "25h", "soon"} {
		if r := runCLI("rehearse", "--delivery-delay", arg); r.code != exitUsage || !strings.Contains(r.stderr, "delivery-delay") {
			t.Errorf("--delivery-delay %s: exit %d, stderr %q", arg, r.code, r.stderr)
		}
	}
}
