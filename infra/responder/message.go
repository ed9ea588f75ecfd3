package responder

import (
	"fmt"
	"strings"
	"time"
)

// maxSubject is SNS's limit on a message subject (and it must be ASCII without line breaks).
// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
const maxSubject = 100

// Announcement is the alert-topic message a person can act on: what happened, what was done,
// how to undo it (the exact kmswatch release command), and what the responder left alone.
func Announcement(r Record, table string) (subject, body string) {
	p := r.Plan
	var b strings.Builder
	verb := map[Decision]string{
		DecideContain: "CONTAINED", DecideProtectKey: "KEY DELETION CANCELLED", DecideRateLimited: "NOT CONTAINED AGAIN",
		DecideReport: "REPORTED", DecideIgnore: "IGNORED",
	}[p.Decision]
	if p.DryRun && len(p.Actions) > 0 {
		verb = "DRY RUN, WOULD HAVE " + verb
	}
	if r.Status == StatusFailed {
		verb += " (PARTLY FAILED)"
	}
	subject = asciiSubject(fmt.Sprintf("[kmswatch responder] %s: %s", verb, subjectSource(p.Trigger)))

	fmt.Fprintf(&b, "What happened (%s):\n  %s\n", p.At.Format(time.RFC3339), p.Why)
	if len(p.Actions) > 0 {
		if p.DryRun {
			b.WriteString("\nWhat would have been done (response is dryRun: nothing was changed):\n")
		} else {
			b.WriteString("\nWhat was done:\n")
		}
		for i, a := range p.Actions {
			state := ""
			if !p.DryRun && i < len(r.Results) {
				switch res := r.Results[i]; {
				case res.Applied:
					state = " [done]"
				case res.Error != "":
					state = " [FAILED: " + res.Error + "]"
				default:
					state = " [not attempted]"
				}
			}
			fmt.Fprintf(&b, "  %d. %s: %s%s\n", i+1, a.Kind, a.Why, state)
		}
		b.WriteString("\nHow to undo:\n")
		for _, line := range undoLines(r, table) {
			b.WriteString("  " + line + "\n")
		}
	}
	if len(p.Reported) > 0 {
		b.WriteString("\nReported, not done:\n")
		for _, line := range p.Reported {
			b.WriteString("  - " + line + "\n")
		}
	}
	fmt.Fprintf(&b, "\nRecord %s in DynamoDB table %s (kmswatch status --table %s).\n", r.ID, table, table)
	return subject, b.String()
}

// undoLines says, per action, what release would do or what a person must.
func undoLines(r Record, table string) []string {
	var lines []string
	releasable := false
	for _, a := range r.Plan.Actions {
		switch a.Undo.Kind {
		case UndoDeletePolicy, UndoRestorePolicy:
			releasable = true
			lines = append(lines, fmt.Sprintf("%s: %s", a.Kind, a.Undo.Note))
		case UndoByPerson:
			lines = append(lines, fmt.Sprintf("%s: %s:", a.Kind, a.Undo.Note))
			for _, c := range a.Undo.Commands {
				lines = append(lines, "    "+c)
			}
		default:
			lines = append(lines, fmt.Sprintf("%s: nothing to undo (%s)", a.Kind, a.Undo.Note))
		}
	}
	if releasable && !r.Plan.DryRun {
		lines = append(lines, "run: "+ReleaseCommand(table, r.ID))
	}
	return lines
}

// subjectSource is the trigger in a few words: the alarm, or the call and who made it
// ("user/Alice", the caller ARN's resource part); the body has the whole ARN.
func subjectSource(t Trigger) string {
	if t.Kind != APICallTrigger {
		return t.Source()
	}
	who := t.Call.Caller
	if i := strings.LastIndex(who, ":"); i >= 0 {
		who = who[i+1:]
	}
	return t.Call.EventName + " by " + who
}

// ReleaseCommand is the exact command that undoes a record.
func ReleaseCommand(table, id string) string {
	return fmt.Sprintf("kmswatch release --table %s %s", table, id)
}

func asciiSubject(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > maxSubject {
		out = out[:maxSubject-3] + "..."
	}
	return out
}
