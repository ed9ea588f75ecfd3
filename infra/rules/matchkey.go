package rules

import "bytes"

// The key a matched call used, for a report's "keys behind the matches". KMS records name it in
// resources (the key ARN, "Starting in December 2022" for the operations on a key) and as the
// caller sent it in requestParameters.keyId: key ARN, key id, alias name or alias ARN.
// https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html
var (
	slotResourceARN  = recordFields.slot("resources.ARN")
	slotRequestKeyID = recordFields.slot("requestParameters.keyId")
	slotTargetKeyID  = recordFields.slot("requestParameters.targetKeyId")
)

var keyARNMark = []byte(":key/")

// matchedKey is the first key ARN among resources, else the first resource ARN, else the key as
// the caller named it (keyId, or targetKeyId for alias calls); nil for an app log line.
func matchedKey(f *fields) []byte {
	var anyARN []byte
	for _, v := range f.slots[slotResourceARN] {
		if v.kind != kindString {
			continue
		}
		if bytes.Contains(v.text, keyARNMark) {
			return v.text
		}
		if anyARN == nil {
			anyARN = v.text
		}
	}
	if anyARN != nil {
		return anyARN
	}
	if k := f.bytes(slotRequestKeyID); len(k) > 0 {
		return k
	}
	return f.bytes(slotTargetKeyID)
}
