package awsdouble

import (
	"encoding/json"
	"strconv"
	"time"
)

// KMS key management, after the API reference: API_ScheduleKeyDeletion.html, API_CancelKeyDeletion.html,
// API_DisableKey.html, API_EnableKey.html, API_GetKeyPolicy.html, API_PutKeyPolicy.html under
// https://docs.aws.amazon.com/kms/latest/APIReference/ , and the key state table
// https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html . Records carry the requestParameters
// and responseElements of the ct-*.md examples (ct-schedule-key-deletion.md, ct-cancel-key-deletion.md,
// ct-disablekey.md, ct-enablekey.md, ct-getkeypolicy.md, ct-put-key-policy.md).

type keyIDRequest struct {
	KeyID *string `json:"KeyId"`
}

type scheduleKeyDeletionRequest struct {
	KeyID               *string `json:"KeyId"`
	PendingWindowInDays *int
}

type keyPolicyRequest struct {
	KeyID                          *string `json:"KeyId"`
	PolicyName                     *string
	Policy                         *string
	BypassPolicyLockoutSafetyCheck bool
}

// deletionDateLayout is how CloudTrail's KMS records print deletionDate ("Nov 2, 2021, 11:25:25 PM").
const deletionDateLayout = "Jan 2, 2006, 3:04:05 PM"

func (s *Server) scheduleKeyDeletion(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req scheduleKeyDeletionRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	extra := ""
	if req.PendingWindowInDays != nil {
		extra = `"pendingWindowInDays":` + strconv.Itoa(*req.PendingWindowInDays)
	}
	ev.params = kmsParams(req.KeyID, nil, nil, "", extra)
	key, aerr := s.requestKey(req.KeyID, ev, "ScheduleKeyDeletion")
	if aerr != nil {
		return nil, aerr
	}
	days := 30
	if req.PendingWindowInDays != nil {
		days = *req.PendingWindowInDays
		switch {
		case days < 1:
			return nil, &apiError{"ValidationException", "1 validation error detected: Value '" + strconv.Itoa(days) + "' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 1"}
		case days > 365:
			return nil, &apiError{"ValidationException", "1 validation error detected: Value '" + strconv.Itoa(days) + "' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 365"}
		case days < 7 || days > 30:
			// The API reference: "If you include a value, it must be between 7 and 30, inclusive." (wording the double's)
			return nil, &apiError{"ValidationException", "PendingWindowInDays must be between 7 and 30, inclusive."}
		}
	}
	key.mu.Lock()
	defer key.mu.Unlock()
	if key.state.Load() == keyPendingDeletion {
		return nil, pendingDeletion(key)
	}
	key.deletionDate, key.pendingDays = ev.at.Add(time.Duration(days)*24*time.Hour), days
	key.state.Store(keyPendingDeletion)

	resp := []byte(`{"keyId":`)
	resp = appendJSONString(resp, key.arn)
	resp = append(resp, `,"deletionDate":`...)
	resp = appendJSONString(resp, key.deletionDate.Format(deletionDateLayout))
	resp = append(resp, `,"keyState":"PendingDeletion","pendingWindowInDays":`...)
	ev.response = append(strconv.AppendInt(resp, int64(days), 10), '}')

	out = append(out, `{"DeletionDate":`...)
	out = appendEpochSeconds(out, key.deletionDate)
	out = append(out, `,"KeyId":`...)
	out = appendJSONString(out, key.arn)
	out = append(out, `,"KeyState":"PendingDeletion","PendingWindowInDays":`...)
	return append(strconv.AppendInt(out, int64(days), 10), '}'), nil
}

// cancelKeyDeletion leaves the key Disabled: "When this operation is successful, the key state of the KMS key
// is Disabled. To enable the KMS key, use EnableKey." (API_CancelKeyDeletion.html)
func (s *Server) cancelKeyDeletion(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	key, aerr := s.keyOnlyRequest(body, ev, "CancelKeyDeletion")
	if aerr != nil {
		return nil, aerr
	}
	key.mu.Lock()
	defer key.mu.Unlock()
	if key.state.Load() != keyPendingDeletion {
		// KMSInvalidStateException is what the API reference lists; the wording is the double's.
		return nil, &apiError{"KMSInvalidStateException", key.arn + " is not pending deletion."}
	}
	key.deletionDate, key.pendingDays = time.Time{}, 0
	key.state.Store(keyDisabled)
	ev.response = appendJSONString([]byte(`{"keyId":`), key.arn)
	ev.response = append(ev.response, '}')
	out = appendJSONString(append(out, `{"KeyId":`...), key.arn)
	return append(out, '}'), nil
}

func (s *Server) disableKeyCall(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	return s.setEnabled(body, ev, out, "DisableKey", keyDisabled)
}

func (s *Server) enableKeyCall(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	return s.setEnabled(body, ev, out, "EnableKey", keyEnabled)
}

// setEnabled moves an Enabled or Disabled key to state; a key pending deletion must be cancelled first.
func (s *Server) setEnabled(body []byte, ev *event, out []byte, action string, state int32) ([]byte, *apiError) {
	key, aerr := s.keyOnlyRequest(body, ev, action)
	if aerr != nil {
		return nil, aerr
	}
	key.mu.Lock()
	defer key.mu.Unlock()
	if key.state.Load() == keyPendingDeletion {
		return nil, pendingDeletion(key)
	}
	key.state.Store(state)
	return append(out, "{}"...), nil
}

// keyOnlyRequest reads a request whose only member is KeyId.
func (s *Server) keyOnlyRequest(body []byte, ev *event, action string) (*kmsKey, *apiError) {
	var req keyIDRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	ev.params = kmsParams(req.KeyID, nil, nil, "", "")
	return s.requestKey(req.KeyID, ev, action)
}

const defaultPolicyName = "default"

func (s *Server) getKeyPolicy(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req keyPolicyRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	name := policyNameOrDefault(req.PolicyName)
	ev.params = kmsParams(req.KeyID, nil, nil, "", `"policyName":`+string(appendJSONString(nil, name)))
	key, aerr := s.requestKey(req.KeyID, ev, "GetKeyPolicy")
	if aerr != nil {
		return nil, aerr
	}
	if name != defaultPolicyName {
		return nil, &apiError{"NotFoundException", "No such policy exists"} // "The only valid name is default."
	}
	key.mu.Lock()
	policy := key.policy
	key.mu.Unlock()
	out = appendJSONString(append(out, `{"Policy":`...), policy)
	return append(out, `,"PolicyName":"default"}`...), nil
}

// putKeyPolicy stores the policy; the double does not evaluate key policies.
func (s *Server) putKeyPolicy(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req keyPolicyRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	name := policyNameOrDefault(req.PolicyName)
	extra := `"policyName":` + string(appendJSONString(nil, name))
	if req.Policy != nil {
		extra += `,"policy":` + string(appendJSONString(nil, *req.Policy))
	}
	extra += `,"bypassPolicyLockoutSafetyCheck":` + strconv.FormatBool(req.BypassPolicyLockoutSafetyCheck)
	ev.params = kmsParams(req.KeyID, nil, nil, "", extra)
	key, aerr := s.requestKey(req.KeyID, ev, "PutKeyPolicy")
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case req.Policy == nil:
		return nil, nullValue("policy")
	case name != defaultPolicyName:
		return nil, &apiError{"NotFoundException", "No such policy exists"}
	case len(*req.Policy) == 0 || len(*req.Policy) > 32768 || !json.Valid([]byte(*req.Policy)):
		// The API reference's MalformedPolicyDocumentException; the wording is the double's.
		return nil, &apiError{"MalformedPolicyDocumentException", "The key policy is not a JSON document of 1 to 32768 characters."}
	}
	key.mu.Lock()
	key.policy = *req.Policy
	key.mu.Unlock()
	return append(out, "{}"...), nil
}

func policyNameOrDefault(name *string) string {
	if name == nil || *name == "" {
		return defaultPolicyName
	}
	return *name
}
