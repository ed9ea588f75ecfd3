package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kmswatch/kmswatch/app"
)

// DefaultMaxBodyBytes bounds a request body (64 KiB): far above the largest
// valid request (4 KiB text plus JSON escaping), far below what could hurt.
const DefaultMaxBodyBytes = 64 << 10

type encryptRequest struct{ Name, Text string }

type decryptRequest struct{ Name, Key string }

// readBody checks the content type and size and returns the whole body.
//
// A missing Content-Type is refused (415): a browser can send a body without
// one cross-site without a CORS preflight, while application/json always needs
// one, which this API never grants. The lab's curl commands always send it.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, app.Errorf(app.ETOOLARGE, "Request body must be at most %d bytes", limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &app.Error{Code: app.EINVALID, Message: "Could not read the request body", Err: err}
	}
	if int64(len(body)) > limit {
		return nil, app.Errorf(app.ETOOLARGE, "Request body must be at most %d bytes", limit)
	}
	return body, nil
}

func checkContentType(contentType string) error {
	if contentType == "application/json" { // the common case, without parsing
		return nil
	}
	unsupported := app.Errorf(app.EUNSUPPORTED, "Content-Type must be application/json")
	if contentType == "" {
		return unsupported
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return app.Errorf(app.EUNSUPPORTED, "Content-Type charset must be utf-8")
	}
	return nil
}

func decodeEncryptRequest(body []byte) (encryptRequest, error) {
	var req encryptRequest
	err := decodeStringFields(body, "Name, Text", func(field string) *string {
		switch field {
		case "Name":
			return &req.Name
		case "Text":
			return &req.Text
		}
		return nil
	})
	if err != nil {
		return req, err
	}
	if err := app.ValidateName(req.Name); err != nil {
		return req, err
	}
	return req, app.ValidateText(req.Text)
}

func decodeDecryptRequest(body []byte) (decryptRequest, error) {
	var req decryptRequest
	err := decodeStringFields(body, "Name, Key", func(field string) *string {
		switch field {
		case "Name":
			return &req.Name
		case "Key":
			return &req.Key
		}
		return nil
	})
	if err != nil {
		return req, err
	}
	if err := app.ValidateName(req.Name); err != nil {
		return req, err
	}
	return req, app.ValidateKey(req.Key)
}

// decodeStringFields decodes one JSON object whose fields are all strings.
// Field names match exactly (encoding/json would also accept "name"); unknown,
// duplicate and non-string fields, non-UTF-8 input and trailing data are errors.
// dst returns where a field's value goes, or nil for an unknown field.
func decodeStringFields(body []byte, expected string, dst func(field string) *string) error {
	if !utf8.Valid(body) || hasLoneSurrogateEscape(body) {
		// encoding/json would silently turn these into U+FFFD and change the text.
		return app.Errorf(app.EINVALID, "Request body must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err == io.EOF {
		return app.Errorf(app.EINVALID, "Request body is empty; expected a JSON object with %s", expected)
	} else if err != nil {
		return invalidJSON(err, dec)
	} else if tok != json.Delim('{') {
		return app.Errorf(app.EINVALID, "Request body must be a JSON object with %s", expected)
	}
	var seen []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalidJSON(err, dec)
		}
		field := tok.(string) // object keys are always strings
		target := dst(field)
		if target == nil {
			return app.Errorf(app.EINVALID, "Unknown field %q; expected %s (names are case-sensitive)", shorten(field), expected)
		}
		for _, s := range seen {
			if s == field {
				return app.Errorf(app.EINVALID, "Duplicate field %q", field)
			}
		}
		seen = append(seen, field)
		tok, err = dec.Token()
		if err != nil {
			return invalidJSON(err, dec)
		}
		s, ok := tok.(string)
		if !ok {
			return app.Errorf(app.EINVALID, "%s must be a string, not %s", field, jsonKind(tok))
		}
		*target = s
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return invalidJSON(err, dec)
	}
	if _, err := dec.Token(); err != io.EOF {
		return app.Errorf(app.EINVALID, "Unexpected data after the JSON object")
	}
	return nil
}

func invalidJSON(err error, dec *json.Decoder) error {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return app.Errorf(app.EINVALID, "Invalid JSON: unexpected end of input")
	case errors.As(err, &syntax):
		return app.Errorf(app.EINVALID, "Invalid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	}
	return app.Errorf(app.EINVALID, "Invalid JSON at byte %d", dec.InputOffset())
}

func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprintf("%T", tok)
}

// shorten keeps error messages small when they quote a caller's field name.
func shorten(s string) string {
	const maxRunes = 40
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	return string([]rune(s)[:maxRunes]) + "..."
}

// hasLoneSurrogateEscape reports a \uD800-\uDFFF escape that is not part of a
// valid surrogate pair. Backslashes only occur inside JSON strings, so a linear
// scan that steps over each escape sees every \u escape.
func hasLoneSurrogateEscape(b []byte) bool {
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i+1 < len(b); {
		if b[i+1] != 'u' {
			i = nextBackslash(b, i+2)
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return false // malformed escape: the decoder reports it
		}
		i += 6
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
				return true
			}
			low, ok := hex4(b, i+2)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6
		}
		i = nextBackslash(b, i)
	}
	return false
}

func nextBackslash(b []byte, from int) int {
	if from >= len(b) {
		return -1
	}
	if j := bytes.IndexByte(b[from:], '\\'); j >= 0 {
		return from + j
	}
	return -1
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
