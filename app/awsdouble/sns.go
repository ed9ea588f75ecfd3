package awsdouble

import (
	"strings"
	"time"
	"unicode/utf8"
)

// SNS Publish to a topic, after https://docs.aws.amazon.com/sns/latest/api/API_Publish.html . Nothing is
// delivered: Messages returns what was published, so a test reads what a person would have been sent.

// Message is one published SNS message.
type Message struct {
	TopicARN, MessageID string
	Subject, Message    string
	Attributes          map[string]string // message attributes of DataType String, by name
	Published           time.Time
	PublisherARN        string // the caller's ARN
}

// maxSNSMessageBytes is Publish's limit: "up to 256 KB in size (262,144 bytes, not 262,144 characters)".
const maxSNSMessageBytes = 262144

// CreateTopic makes a standard topic named name and returns its ARN; creating it again returns the same ARN.
func (s *Server) CreateTopic(name string) string {
	arn := "arn:aws:sns:" + s.opts.Region + ":" + s.opts.AccountID + ":" + name
	s.snsMu.Lock()
	s.topics[arn] = true
	s.snsMu.Unlock()
	return arn
}

// Messages returns what was published to topicARN, oldest first ("" for every topic).
func (s *Server) Messages(topicARN string) []Message {
	s.snsMu.Lock()
	defer s.snsMu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if topicARN == "" || m.TopicARN == topicARN {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) publish(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	f := ev.form
	topic := f.Get("TopicArn")
	if topic == "" {
		topic = f.Get("TargetArn")
	}
	// The record names the topic only: message and subject stay out of the trail.
	ev.params = appendJSONString([]byte(`{"topicArn":`), topic)
	ev.params = append(ev.params, '}')
	ev.resourceARN, ev.resourceTy = topic, "AWS::SNS::Topic"
	msg, subject := f.Get("Message"), f.Get("Subject")
	switch {
	case f.Get("PhoneNumber") != "":
		return nil, &apiError{"InvalidParameter", "Invalid parameter: PhoneNumber (awsdouble publishes to topics only)"}
	case topic == "":
		return nil, &apiError{"InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"}
	case msg == "":
		return nil, &apiError{"InvalidParameter", "Invalid parameter: Empty message"}
	case len(msg) > maxSNSMessageBytes:
		return nil, &apiError{"InvalidParameter", "Invalid parameter: Message too long"}
	case !validSubject(subject):
		return nil, &apiError{"InvalidParameter", "Invalid parameter: Subject"}
	}
	s.snsMu.Lock()
	known := s.topics[topic]
	s.snsMu.Unlock()
	if !known {
		return nil, &apiError{"NotFound", "Topic does not exist"}
	}
	if aerr := s.authorize(ev, "Publish", topic, ""); aerr != nil {
		return nil, aerr
	}
	m := Message{
		TopicARN: topic, MessageID: newUUID(), Subject: subject, Message: msg,
		Attributes: stringAttributes(f), Published: ev.at, PublisherARN: ev.principal.arn,
	}
	s.snsMu.Lock()
	s.messages = append(s.messages, m)
	s.snsMu.Unlock()
	return appendXMLElement(out, "MessageId", m.MessageID), nil
}

// validSubject applies Publish's rule: "ASCII text that begins with a letter, number, or punctuation mark;
// must not include line breaks or control characters; and must be less than 100 characters long."
func validSubject(subject string) bool {
	if subject == "" {
		return true
	}
	if len(subject) >= 100 || !utf8.ValidString(subject) || subject[0] == ' ' {
		return false
	}
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// stringAttributes reads MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue.
func stringAttributes(f map[string][]string) map[string]string {
	attrs := map[string]string{}
	for key, values := range f {
		prefix, ok := strings.CutSuffix(key, ".Name")
		if !ok || !strings.HasPrefix(prefix, "MessageAttributes.entry.") || len(values) == 0 {
			continue
		}
		if dt := first(f[prefix+".Value.DataType"]); strings.HasPrefix(dt, "String") {
			attrs[values[0]] = first(f[prefix+".Value.StringValue"])
		}
	}
	return attrs
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
