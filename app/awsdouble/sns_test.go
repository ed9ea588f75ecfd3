package awsdouble_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/kmswatch/kmswatch/app/awsdouble"
)

func TestPublishedMessagesCanBeRead(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	topic := d.CreateTopic("kmswatch-dev-alerts")
	if again := d.CreateTopic("kmswatch-dev-alerts"); again != topic || topic != "arn:aws:sns:us-east-1:111122223333:kmswatch-dev-alerts" {
		t.Fatalf("CreateTopic = %s then %s", topic, again)
	}
	responder := d.as(mustAssumeRole(t, d, responderRole, "kmswatch-responder").Credentials, "")
	out, err := responder.SNS.Publish(testContext(t), &sns.PublishInput{
		TopicArn: aws.String(topic), Subject: aws.String("kmswatch contained the task role"),
		Message: aws.String("What happened: ...\nHow to undo: kmswatch release"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"action": {DataType: aws.String("String"), StringValue: aws.String("contain")},
		},
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	msgs := d.Messages(topic)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.MessageID != aws.ToString(out.MessageId) || m.Subject != "kmswatch contained the task role" || !strings.Contains(m.Message, "How to undo") ||
		m.Attributes["action"] != "contain" || m.PublisherARN != "arn:aws:sts::111122223333:assumed-role/kmswatch-responder/kmswatch-responder" {
		t.Errorf("message = %+v", m)
	}
	rec := lastRecord(t, d)
	if rec.EventSource != "sns.amazonaws.com" || rec.EventCategory != "Data" || rec.ManagementEvent == nil || *rec.ManagementEvent ||
		rec.Resources[0].ARN != topic || rec.Resources[0].Type != "AWS::SNS::Topic" || string(rec.RequestParameters) != `{"topicArn":"`+topic+`"}` {
		t.Errorf("Publish record: %s %s management %v resources %v params %s", rec.EventSource, rec.EventCategory, rec.ManagementEvent, rec.Resources, rec.RequestParameters)
	}
}

func TestPublishErrorsAreSNSs(t *testing.T) {
	d := mustStart(t, awsdouble.Options{})
	topic := d.CreateTopic("alerts")
	cases := []struct {
		name       string
		in         sns.PublishInput
		isWanted   func(error) bool
		wantCode   string
		wantStatus int
	}{
		{"unknown topic", sns.PublishInput{TopicArn: aws.String(topic + "-gone"), Message: aws.String("m")}, isA[*snstypes.NotFoundException], "NotFound", 404},
		{"empty message", sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("")}, isA[*snstypes.InvalidParameterException], "InvalidParameter", 400},
		{"a subject with a line break", sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m"), Subject: aws.String("a\nb")}, isA[*snstypes.InvalidParameterException], "InvalidParameter", 400},
		{"a subject of 100 characters", sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m"), Subject: aws.String(strings.Repeat("s", 100))}, isA[*snstypes.InvalidParameterException], "InvalidParameter", 400},
		{"a message over 256 KB", sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("m", 262145))}, isA[*snstypes.InvalidParameterException], "InvalidParameter", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.SNS.Publish(testContext(t), &tc.in)
			if !tc.isWanted(err) || errorCode(err) != tc.wantCode || httpStatus(err) != tc.wantStatus {
				t.Errorf("err = %v (status %d), want %s %d", err, httpStatus(err), tc.wantCode, tc.wantStatus)
			}
		})
	}
	if n := len(d.Messages("")); n != 0 {
		t.Errorf("%d messages kept from failed publishes", n)
	}
}
