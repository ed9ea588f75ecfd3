package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The rehearsal's trail, as CloudTrail writes it to S3 (gzip'd {"Records":[...]}), and the app's
// log, as a CloudWatch Logs export: `kmswatch replay` joins them and names every Decrypt by the
// task role that the app did not serve, with caller, address and time; without the copy's
// Decrypts, none.
func TestReplayNamesEveryDecryptTheAppDidNotServe(t *testing.T) {
	l := mustLoop(t, rehearseExfiltration, defaultDelays())
	files := func(keep func(raw []byte) bool) string {
		var recs []json.RawMessage
		for _, raw := range l.double.Records() {
			if keep(raw) {
				recs = append(recs, raw)
			}
		}
		doc, err := json.Marshal(map[string]any{"Records": recs})
		if err != nil {
			t.Fatal(err)
		}
		l.logMu.Lock()
		appLog := bytes.Clone(l.appLog.Bytes())
		l.logMu.Unlock()
		return writeDir(t, map[string][]byte{
			"AWSLogs/111122223333/CloudTrail/us-east-1/trail.json.gz": gz(t, doc),
			"app/kmswatch-dev-app.log":                                appLog,
		})
	}
	role := "arn:aws:iam::" + loopAccount + ":role/" + loopTaskRole
	all := files(func([]byte) bool { return true })
	r := runCLI("replay", "--role-arn", role, "--rule", "app-decrypt-unmatched", "--limit", "2", all)
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (unmatched decrypts)\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"app-decrypt-unmatched [critical] fires at once, per event: 901 records matched, fired 901 times",
		"Decrypt  -      arn:aws:sts::111122223333:assumed-role/kmswatch-dev-task/", "198.51.100.23",
		"... 899 more",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, natAddress) {
		t.Errorf("a Decrypt the app served (from %s) is reported:\n%s", natAddress, r.stdout)
	}
	if !strings.Contains(r.stderr, "app-decrypt-unmatched: 1 Decrypt by the task role falls outside the app log read") {
		t.Errorf("stderr %q: want the note on what the app log does not cover", r.stderr)
	}

	appOnly := files(func(raw []byte) bool { return !bytes.Contains(raw, []byte(`"sourceIPAddress":"`+attackerAddress+`"`)) })
	r = runCLI("replay", "--role-arn", role, "--rule", "app-decrypt-unmatched", "--json", appOnly)
	if r.code != exitOK || strings.Contains(r.stdout, `"type":"match"`) {
		t.Errorf("the app's own decrypts: exit %d, stdout %s, stderr %s; want 0 and no match", r.code, r.stdout, r.stderr)
	}
}

func TestAppKeyArnMustBeAKeyARN(t *testing.T) {
	for _, cmd := range []string{"replay", "rules"} {
		args := []string{cmd, "--app-key-arn", "alias/kmswatch-dev-app"}
		if cmd == "replay" {
			args = append(args, samplesDir)
		}
		r := runCLI(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, `--app-key-arn "alias/kmswatch-dev-app": want the key's ARN`) {
			t.Errorf("%s: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
	}
	const key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	r := runCLI("rules", "--app-key-arn", key)
	if r.code != exitOK || !strings.Contains(r.stdout, "Sum(AWS/KMS SuccessfulRequest KeyArn="+key+" Operation=Decrypt)") {
		t.Errorf("rules --app-key-arn: exit %d\n%s", r.code, r.stdout)
	}
	// The KMS guide's Decrypt sample is of that key: replay counts it for the per-key rule.
	r = runCLI("replay", "--app-key-arn", key, "--rule", "app-key-decrypt-rate", "--json", samplesDir)
	if r.code != exitOK || !strings.Contains(r.stdout, `"rule":"app-key-decrypt-rate"`) || !strings.Contains(r.stdout, `"eventName":"Decrypt"`) {
		t.Errorf("replay --app-key-arn: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// The join's fixture (rules/testdata/join, see its README): the one Decrypt the app did not serve,
// from another address, is reported; exit 1.
func TestReplayJoinFixture(t *testing.T) {
	r := runCLI("replay", "--role-arn", labRole, "--rule", "app-decrypt-unmatched", "--json", "../../rules/testdata/join")
	lines := matchLines(t, r.stdout)
	if r.code != exitFindings || len(lines) != 1 || lines[0] != "app-decrypt-unmatched Decrypt" ||
		!strings.Contains(r.stdout, `"sourceIPAddress":"198.51.100.23"`) || !strings.Contains(r.stdout, `"eventTime":"2020-11-16T22:27:41Z"`) {
		t.Errorf("exit %d, matches %v\n%s\n%s", r.code, lines, r.stdout, r.stderr)
	}
}
