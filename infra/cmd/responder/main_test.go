package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/kmswatch/kmswatch/infra/responder"
)

func stackEnv() map[string]string {
	return map[string]string{
		envMode: "contain", envRoleName: "identity-task-role-1a2b3c4", envRoleARN: "arn:aws:iam::123456789012:role/identity-task-role-1a2b3c4",
		envCluster: "kmswatch-dev", envService: "app",
		envAppKey:   "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		envAuditKey: "arn:aws:kms:eu-west-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321",
		envAlarms:   "kmswatch-dev-app-decrypt-volume, kmswatch-dev-app-decrypt-outside",
		envInterval: "1h0m0s", envTable: "kmswatch-dev-responder", envTopic: "arn:aws:sns:eu-west-1:123456789012:kmswatch-dev-alerts",
	}
}

func TestLoadSettings(t *testing.T) {
	env := stackEnv()
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.Stack.Mode != responder.ModeContain || s.Stack.ContainmentInterval != time.Hour || s.Table != "kmswatch-dev-responder" ||
		len(s.Stack.ContainOnAlarms) != 2 || s.Stack.ContainOnAlarms[1] != "kmswatch-dev-app-decrypt-outside" {
		t.Errorf("settings %+v", s)
	}
}

func TestLoadSettingsNamesEveryProblem(t *testing.T) {
	_, err := loadSettings(func(string) string { return "" })
	for _, name := range []string{envMode, envRoleName, envRoleARN, envCluster, envService, envAppKey, envAuditKey, envAlarms, envInterval, envTable, envTopic} {
		if err == nil || !strings.Contains(err.Error(), name+" not set") {
			t.Errorf("%v does not name %s", err, name)
		}
	}
	env := stackEnv()
	env[envInterval], env[envMode] = "hourly", "yolo"
	if _, err := loadSettings(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CONTAINMENT_INTERVAL \"hourly\"") {
		t.Errorf("a bad interval: %v", err)
	}
	env = stackEnv()
	env[envMode] = "yolo"
	if _, err := loadSettings(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), `response "yolo"`) {
		t.Errorf("a bad mode: %v", err)
	}
}

// The handler refuses a payload it does not know, so that Lambda counts the error and retries,
// without calling AWS (the clients point at nothing here).
func TestHandlerRefusesAnUnknownPayload(t *testing.T) {
	env := stackEnv()
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), Credentials: aws.AnonymousCredentials{}}
	h := handler(newExecutor(cfg, s, slog.New(slog.NewJSONHandler(&logs, nil))))
	out, err := h(context.Background(), json.RawMessage(`{"Records":[{"EventSource":"aws:sns"}]}`))
	if err == nil || !errors.Is(err, responder.ErrUnknownTrigger) {
		t.Errorf("outcome %+v, error %v", out, err)
	}
	// An alarm that does not contain is decided without a call.
	out, err = h(context.Background(), json.RawMessage(`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x",
		"alarmData":{"alarmName":"kmswatch-dev-app-kms-errors","state":{"value":"ALARM"}}}`))
	if err != nil || out.Decision != responder.DecideIgnore {
		t.Errorf("outcome %+v, error %v", out, err)
	}
}
