package main

import "strings"

// Names that can never receive mail or be a real site, so that an address copied from an example
// stops the program instead of deploying alerts to nobody.
// RFC 2606 reserves the TLDs .test, .example, .invalid and .localhost and the second-level names
// example.com, example.net and example.org; RFC 6761 (section 6) confirms them as special-use;
// .local is multicast DNS (RFC 6762). The rest are the placeholders documentation uses.
// https://www.rfc-editor.org/rfc/rfc2606 https://www.rfc-editor.org/rfc/rfc6761 https://www.rfc-editor.org/rfc/rfc6762
var (
	reservedTLDs       = []string{"test", "example", "invalid", "localhost", "local"}
	placeholderDomains = []string{"yourcompany.com", "yourdomain.com", "your-company.com", "your-domain.com", "mycompany.com", "company.com", "domain.com"}
)

// placeholderDomain says why a domain is an example rather than a real one; "" when it is not.
// Any "example" label counts (example.com, example.co.uk, mail.example.de: RFC 2606's names
// and the example.* habit).
func placeholderDomain(domain string) string {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	labels := strings.Split(d, ".")
	tld := labels[len(labels)-1]
	for _, r := range reservedTLDs {
		if tld == r {
			return "." + r + " is a reserved top-level domain (RFC 2606, RFC 6761)"
		}
	}
	for _, l := range labels {
		if l == "example" {
			return "example.* names are reserved for examples (RFC 2606)"
		}
	}
	for _, p := range placeholderDomains {
		if d == p || strings.HasSuffix(d, "."+p) {
			return p + " is the documentation's placeholder"
		}
	}
	return ""
}
