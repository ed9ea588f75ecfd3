package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The EventBridge input transformer, as AWS documents it, so that offline text is what a target
// receives. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
// and https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html:
//   - The template is delivered as written, placeholders replaced; nothing is decoded. A
//     template that is a JSON string keeps its quotes and escapes: "instance \"<instance>\" is in
//     <state>" delivers "instance \"i-0123456789\" is in RUNNING", quotes and backslashes included
//     ("Simple string", "String with escaped quotes"); the tutorial's SNS message for the
//     template "This event was of <detail-type> type." is the same text, in its quotes.
//   - Plain text is a template too: "<instance> is in state <status>".
//   - In a JSON object template, a placeholder outside quotes takes the value as JSON, a string
//     quoted ("instance" : <instance> delivers "instance" : "i-0123456789"); inside quotes it
//     takes the value's text. "EventBridge doesn't escape values extracted by Input Path."
//   - "If you specify a variable to match a JSON path that doesn't exist in the event, that
//     variable isn't created and won't appear in the output": it renders as nothing.
//   - Paths use "JSON dot notation, not bracket notation"; up to 100 variables; the template is
//     1 to 8192 characters.

// InputTransformer is how an EventBridge target turns an event into the message a person reads.
type InputTransformer struct {
	InputPaths    map[string]string // variable -> JSON path in the event ($.a.b)
	InputTemplate string            // <variable> placeholders in plain text, a JSON string or a JSON object
}

// TemplateForm is how EventBridge reads an input template.
type TemplateForm int

const (
	PlainText  TemplateForm = iota // delivered as written, values' text put in
	JSONString                     // delivered as written too: its quotes and backslash escapes arrive
	JSONObject                     // values outside quotes go in as JSON, inside quotes as text
)

func (f TemplateForm) String() string {
	switch f {
	case JSONString:
		return "JSON string"
	case JSONObject:
		return "JSON object"
	}
	return "plain text"
}

// Form says how EventBridge reads the template.
func (t InputTransformer) Form() TemplateForm {
	s := strings.TrimSpace(t.InputTemplate)
	if strings.HasPrefix(s, "{") {
		return JSONObject // "If InputTemplate is a JSON object (surrounded by curly braces)"
	}
	var str string
	if strings.HasPrefix(s, `"`) && json.Unmarshal([]byte(s), &str) == nil {
		return JSONString
	}
	return PlainText
}

// The API's limits and patterns for InputTransformer.
const (
	maxInputPaths    = 100
	maxInputTemplate = 8192
)

var (
	inputPathKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// dot notation only: $ or $.a.b, no brackets or wildcards (which Render does not model)
	inputPathValue = regexp.MustCompile(`^\$(\.[^.\[\]*]+)*$`)
)

// Validate checks the transformer against the API's limits and against what Render models.
func (t InputTransformer) Validate() error {
	var errs []error
	if n := len(t.InputTemplate); n < 1 || n > maxInputTemplate {
		errs = append(errs, fmt.Errorf("input template of %d characters: must be 1 to %d", n, maxInputTemplate))
	}
	if len(t.InputPaths) > maxInputPaths {
		errs = append(errs, fmt.Errorf("%d input paths: at most %d", len(t.InputPaths), maxInputPaths))
	}
	for name, path := range t.InputPaths {
		if !inputPathKey.MatchString(name) {
			errs = append(errs, fmt.Errorf("input path name %q: letters, digits, _ and - only", name))
		}
		if !inputPathValue.MatchString(path) {
			errs = append(errs, fmt.Errorf("input path %s = %q: want JSON dot notation such as $.detail.eventName", name, path))
		}
	}
	return errors.Join(errs...)
}

// extracted is a variable's value: its text (a string's characters, other values' JSON) and
// its JSON; found is false when the path is not in the event.
type extracted struct {
	text, json string
	composite  bool // an object or an array
	found      bool
}

// Render returns what EventBridge hands the target for event (an EventBridge event's JSON): the
// template as written, each <variable> replaced as described above, nothing decoded. A
// placeholder that names no variable stays as written. A value that is an object or an array
// can only go where JSON goes: in text, how EventBridge writes it is not documented for event
// buses, and Render says so rather than guess.
func (t InputTransformer) Render(event []byte) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber() // numbers keep the event's spelling
	var ev any
	if err := dec.Decode(&ev); err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	values := make(map[string]extracted, len(t.InputPaths))
	for name, path := range t.InputPaths {
		values[name] = extract(ev, path)
	}
	form := t.Form()
	tmpl := t.InputTemplate
	var out strings.Builder
	inString, escaped := false, false // only tracked in a JSON object template
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c == '<' {
			if end := strings.IndexByte(tmpl[i+1:], '>'); end >= 0 {
				name := tmpl[i+1 : i+1+end]
				if v, ok := values[name]; ok {
					asJSON := form == JSONObject && !inString
					if v.composite && !asJSON {
						return "", fmt.Errorf("variable %s is a JSON %s: put it where a JSON value goes, in a JSON object template", name, kindOf(v.json))
					}
					switch {
					case !v.found:
					case asJSON:
						out.WriteString(v.json)
					default:
						out.WriteString(v.text)
					}
					i += end + 1
					continue
				}
			}
		}
		if form == JSONObject {
			switch {
			case escaped:
				escaped = false
			case c == '\\' && inString:
				escaped = true
			case c == '"':
				inString = !inString
			}
		}
		out.WriteByte(c)
	}
	return out.String(), nil
}

// extract follows a dot-notation path ($.a.b) through the event.
func extract(ev any, path string) extracted {
	v := ev
	if rest := strings.TrimPrefix(path, "$"); rest != "" {
		for _, key := range strings.Split(strings.TrimPrefix(rest, "."), ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				return extracted{}
			}
			if v, ok = obj[key]; !ok {
				return extracted{}
			}
		}
	}
	switch x := v.(type) {
	case string:
		return extracted{text: x, json: `"` + x + `"`, found: true} // unescaped, as EventBridge does
	case json.Number:
		return extracted{text: x.String(), json: x.String(), found: true}
	case map[string]any, []any:
		return extracted{json: marshalPlain(x), composite: true, found: true}
	}
	b := marshalPlain(v) // true, false, null
	return extracted{text: b, json: b, found: true}
}

func kindOf(js string) string {
	if strings.HasPrefix(js, "[") {
		return "array"
	}
	return "object"
}
