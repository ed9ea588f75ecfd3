package responder

import (
	"strings"
	"testing"
)

func TestAnnouncementSaysWhatHappenedWhatWasDoneAndHowToUndo(t *testing.T) {
	r := applied(t, State{})
	subject, body := Announcement(r, "kmswatch-dev-responder")
	if subject != "[kmswatch responder] CONTAINED: alarm "+volumeAlarm {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{
		"What happened", "alarm " + volumeAlarm + " is in ALARM (Threshold Crossed",
		"1. revoke-role-sessions: deny every request signed with kmswatch-task-1a2b3c4 credentials issued before 2026-11-26T10:15:00Z",
		"2. force-new-deployment: start fresh tasks of service app", "[done]",
		"run: kmswatch release --table kmswatch-dev-responder " + r.ID,
		"Record " + r.ID + " in DynamoDB table kmswatch-dev-responder",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestAnnouncementOfADryRunChangesNothingAndOffersNoRelease(t *testing.T) {
	dry := testStack
	dry.Mode = ModeDryRun
	p := Decide(mustParse(t, alarmEvent(volumeAlarm, "ALARM")), State{}, dry, testNow)
	subject, body := Announcement(NewRecord("20261126T101458Z-0a1b2c3d", p, dry.Mode), "t")
	if !strings.HasPrefix(subject, "[kmswatch responder] DRY RUN, WOULD HAVE CONTAINED") {
		t.Errorf("subject %q", subject)
	}
	if !strings.Contains(body, "nothing was changed") || strings.Contains(body, "kmswatch release") || strings.Contains(body, "[done]") {
		t.Errorf("dry-run body:\n%s", body)
	}
}

func TestAnnouncementOfACancelledDeletionNamesThePersonsCommands(t *testing.T) {
	p := Decide(mustParse(t, apiCallEvent(t, sampleRecord(t, "kms-schedulekeydeletion.json", testStack.AppKeyARN))),
		State{AppKeyState: "PendingDeletion"}, testStack, testNow)
	r := NewRecord("k", p, testStack.Mode)
	r.Results[0].Applied = true
	r.Finish()
	subject, body := Announcement(r, "t")
	if subject != "[kmswatch responder] KEY DELETION CANCELLED: ScheduleKeyDeletion by user/Alice" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"ScheduleKeyDeletion by arn:aws:iam::111122223333:user/Alice from 192.0.2.0", "aws kms enable-key --key-id " + testStack.AppKeyARN, "stays Disabled"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "kmswatch release") {
		t.Errorf("release does not undo a cancelled deletion, yet the body offers it:\n%s", body)
	}
}

func TestSubjectIsWhatSNSAccepts(t *testing.T) {
	long := asciiSubject("[kmswatch responder] CONTAINED: alarm " + strings.Repeat("é-long-name-", 20) + "\n")
	if len(long) > maxSubject || strings.ContainsAny(long, "\n\r") {
		t.Errorf("subject %q (%d bytes)", long, len(long))
	}
	for _, r := range long {
		if r > 0x7e {
			t.Fatalf("subject has %q", r)
		}
	}
}
