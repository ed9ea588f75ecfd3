package awsdouble

import (
	"fmt"
	"strconv"
	"time"
)

// secret is the current version of one Secrets Manager secret; PutSecret replaces it whole, so created is the version's.
type secret struct {
	name, arn, versionID, value string
	created                     time.Time
}

// PutSecret creates the secret name or gives it a new current version, and returns its ARN.
func (s *Server) PutSecret(name, secretString string) (arn string) {
	s.secMu.Lock()
	defer s.secMu.Unlock()
	old := s.secrets[name]
	sec := &secret{name: name, value: secretString, versionID: newUUID(), created: s.opts.Now().UTC()}
	if old != nil {
		sec.arn = old.arn
	} else {
		sec.arn = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.opts.Region, s.opts.AccountID, name, randomSuffix())
	}
	s.secrets[sec.name] = sec
	s.secrets[sec.arn] = sec
	return sec.arn
}

func (s *Server) lookupSecret(id string) *secret {
	s.secMu.RLock()
	sec := s.secrets[id]
	s.secMu.RUnlock()
	return sec
}

// randomSuffix is the 6 characters Secrets Manager appends to a secret's name in its ARN.
func randomSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [6]byte
	fillRandom(b[:])
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:])
}

type getSecretValueRequest struct {
	SecretID     *string `json:"SecretId"`
	VersionID    string  `json:"VersionId"`
	VersionStage string
}

const currentStage = "AWSCURRENT"

// getSecretValue serves the current version only, after
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html .
func (s *Server) getSecretValue(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req getSecretValueRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	ev.params = secretParams(req)
	if errType, ok := s.takeFault(ev.name); ok {
		return nil, faultError(ev.source, errType)
	}
	if req.SecretID == nil || *req.SecretID == "" {
		return nil, &apiError{"InvalidParameterException", "You must provide a valid SecretId."}
	}
	sec := s.lookupSecret(*req.SecretID)
	if sec == nil ||
		(req.VersionID != "" && req.VersionID != sec.versionID) ||
		(req.VersionStage != "" && req.VersionStage != currentStage) {
		return nil, &apiError{"ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
	}
	ev.resourceARN, ev.resourceTy = sec.arn, "AWS::SecretsManager::Secret"
	if aerr := s.authorize(ev, "GetSecretValue", sec.arn, ""); aerr != nil {
		return nil, aerr
	}
	out = append(out, `{"ARN":`...)
	out = appendJSONString(out, sec.arn)
	out = append(out, `,"CreatedDate":`...)
	out = appendEpochSeconds(out, sec.created)
	out = append(out, `,"Name":`...)
	out = appendJSONString(out, sec.name)
	out = append(out, `,"SecretString":`...)
	out = appendJSONString(out, sec.value)
	out = append(out, `,"VersionId":`...)
	out = appendJSONString(out, sec.versionID)
	out = append(out, `,"VersionStages":["AWSCURRENT"]}`...)
	return out, nil
}

// secretParams is requestParameters as CloudTrail logs GetSecretValue.
func secretParams(req getSecretValueRequest) []byte {
	b := []byte(`{"secretId":`)
	if req.SecretID != nil {
		b = appendJSONString(b, *req.SecretID)
	} else {
		b = append(b, "null"...)
	}
	if req.VersionID != "" {
		b = append(b, `,"versionId":`...)
		b = appendJSONString(b, req.VersionID)
	}
	if req.VersionStage != "" {
		b = append(b, `,"versionStage":`...)
		b = appendJSONString(b, req.VersionStage)
	}
	return append(b, '}')
}

// appendEpochSeconds writes t as the JSON protocols write timestamps: seconds since the epoch, with milliseconds.
func appendEpochSeconds(b []byte, t time.Time) []byte {
	return strconv.AppendFloat(b, float64(t.UnixMilli())/1000, 'f', 3, 64)
}
