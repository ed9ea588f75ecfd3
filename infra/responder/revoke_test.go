package responder

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// The document is the one IAM's user guide prints for "Revoke active sessions", with the date.
func TestRevokeDocumentIsIAMsOwn(t *testing.T) {
	got := RevokeDocument(time.Date(2026, 11, 26, 10, 15, 0, 999e6, time.FixedZone("CET", 3600)))
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-26T09:15:00Z"}}}]}`
	if got != want {
		t.Errorf("document\n  %s\nwant\n  %s", got, want)
	}
}

func TestRevokedBeforeReadsEveryWayTheDocumentIsWritten(t *testing.T) {
	want := time.Date(2014, 5, 7, 23, 47, 0, 0, time.UTC)
	for name, doc := range map[string]string{
		"as the responder writes it": RevokeDocument(want),
		// the disabling-permissions page's example: one statement as an object, strings not lists
		"as the user guide's example": `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2014-05-07T23:47:00Z"}}}}`,
	} {
		if got, ok := RevokedBefore(doc); !ok || !got.Equal(want) {
			t.Errorf("%s: %s %v, want %s", name, got, ok, want)
		}
	}
	for name, doc := range map[string]string{
		"an allow":          `{"Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2014-05-07T23:47:00Z"}}}]}`,
		"no date":           `{"Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"]}]}`,
		"two statements":    `{"Statement":[{"Effect":"Deny"},{"Effect":"Deny"}]}`,
		"not JSON":          `Deny *`,
		"a date of another": `{"Statement":[{"Effect":"Deny","Condition":{"DateLessThan":{"aws:CurrentTime":"2014-05-07T23:47:00Z"}}}]}`,
	} {
		if got, ok := RevokedBefore(doc); ok {
			t.Errorf("%s: read as a revocation of %s", name, got)
		}
	}
}

func TestPolicyDocumentsCompareAsIAMReturnsThem(t *testing.T) {
	ours := RevokeDocument(testNow)
	// GetRolePolicy returns the document URL-encoded (RFC 3986), possibly re-spaced.
	spaced := strings.ReplaceAll(ours, ",", ", ")
	encoded := strings.ReplaceAll(url.QueryEscape(spaced), "+", "%20")
	decoded, err := DecodePolicyDocument(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if !SameDocument(decoded, ours) {
		t.Errorf("%s\nis not the same document as\n%s", decoded, ours)
	}
	if plain, err := DecodePolicyDocument(ours); err != nil || plain != ours {
		t.Errorf("a plain JSON document must stay as it is: %q, %v", plain, err)
	}
	if SameDocument(ours, RevokeDocument(testNow.Add(time.Second))) {
		t.Error("two dates are two documents")
	}
	if _, err := DecodePolicyDocument("%7Bnot%20json"); err == nil {
		t.Error("accepted a document that is not JSON")
	}
}
