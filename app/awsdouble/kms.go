package awsdouble

import (
	"encoding/base64"
	"strconv"
)

// KMS operations, after the API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html .
// Request members and limits: API_Encrypt.html, API_Decrypt.html, API_GenerateDataKey.html, API_DescribeKey.html.

const (
	symmetricDefault  = "SYMMETRIC_DEFAULT"
	maxPlaintextBytes = 4096 // Encrypt's Plaintext: 1 to 4096 bytes
	maxBlobBytes      = 6144 // Decrypt's CiphertextBlob: 1 to 6144 bytes
	maxDataKeyBytes   = 1024 // GenerateDataKey's NumberOfBytes: 1 to 1024
)

// The wire names are AWS's (KeyId); Go names follow Go's initialisms.
type encryptRequest struct {
	KeyID               *string `json:"KeyId"`
	Plaintext           []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	DryRun              bool
}

type decryptRequest struct {
	KeyID               *string `json:"KeyId"`
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	DryRun              bool
}

type generateDataKeyRequest struct {
	KeyID             *string `json:"KeyId"`
	EncryptionContext map[string]string
	KeySpec           string
	NumberOfBytes     *int
	DryRun            bool
}

type describeKeyRequest struct {
	KeyID *string `json:"KeyId"`
}

func (s *Server) encrypt(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req encryptRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	var keyBuf [8]string
	ctxKeys := sortedKeys(req.EncryptionContext, keyBuf[:])
	ev.params = kmsParams(req.KeyID, req.EncryptionContext, ctxKeys, algorithmOrDefault(req.EncryptionAlgorithm), "")
	key, aerr := s.requestKey(req.KeyID, ev, "Encrypt")
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case req.Plaintext == nil:
		return nil, nullValue("plaintext")
	case len(req.Plaintext) == 0:
		return nil, &apiError{"ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1"}
	case len(req.Plaintext) > maxPlaintextBytes:
		return nil, &apiError{"ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"}
	}
	if aerr := checkUsable(key, req.EncryptionAlgorithm, req.DryRun); aerr != nil {
		return nil, aerr
	}
	var blobBuf [512]byte
	blob := key.seal(blobBuf[:0], req.Plaintext, req.EncryptionContext, ctxKeys)
	out = append(out, `{"CiphertextBlob":"`...)
	out = base64.StdEncoding.AppendEncode(out, blob)
	out = append(out, `","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":`...)
	out = appendJSONString(out, key.arn)
	return append(out, '}'), nil
}

func (s *Server) decrypt(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req decryptRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	var keyBuf [8]string
	ctxKeys := sortedKeys(req.EncryptionContext, keyBuf[:])
	ev.params = kmsParams(req.KeyID, req.EncryptionContext, ctxKeys, algorithmOrDefault(req.EncryptionAlgorithm), "")

	// The key named in the request is the one KMS authorizes against, so it is the record's resource;
	// without one, the key recorded in the blob is.
	var asked *kmsKey
	if req.KeyID != nil {
		asked = s.lookupKey(*req.KeyID)
	}
	blobID, blobErr := blobKeyID(req.CiphertextBlob)
	var owner *kmsKey
	if blobErr == nil {
		owner = s.lookupKey(blobID)
	}
	ev.key = owner
	if req.KeyID != nil {
		ev.key = asked
	}
	if errType, ok := s.takeFault(ev.name); ok {
		return nil, faultError(ev.source, errType)
	}

	switch {
	case req.CiphertextBlob == nil:
		return nil, nullValue("ciphertextBlob")
	case len(req.CiphertextBlob) == 0 || len(req.CiphertextBlob) > maxBlobBytes:
		return nil, &apiError{"ValidationException", "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144"}
	}
	if req.KeyID != nil {
		if aerr := checkKeyID(*req.KeyID); aerr != nil {
			return nil, aerr
		}
		if asked == nil {
			return nil, s.keyNotFound(*req.KeyID)
		}
	}
	if ev.key == nil {
		return nil, invalidCiphertext()
	}
	// The named key (or the blob's) is authorized and must be usable before KMS compares it with the
	// blob's: a disabled key named in the request is a DisabledException, as in the lab.
	if aerr := s.authorize(ev, "Decrypt", ev.key.arn, ""); aerr != nil {
		return nil, aerr
	}
	if aerr := checkState(ev.key); aerr != nil {
		return nil, aerr
	}
	if blobErr != nil || owner == nil {
		return nil, invalidCiphertext()
	}
	if asked != nil && asked != owner {
		// https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#API_Decrypt_Errors
		return nil, &apiError{"IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation."}
	}
	if aerr := checkUsable(owner, req.EncryptionAlgorithm, req.DryRun); aerr != nil {
		return nil, aerr
	}
	var plainBuf [512]byte
	plaintext, err := owner.open(plainBuf[:0], req.CiphertextBlob, req.EncryptionContext, ctxKeys)
	if err != nil {
		return nil, invalidCiphertext()
	}
	out = append(out, `{"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":`...)
	out = appendJSONString(out, owner.arn)
	out = append(out, `,"Plaintext":"`...)
	out = base64.StdEncoding.AppendEncode(out, plaintext)
	return append(out, `"}`...), nil
}

func (s *Server) generateDataKey(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req generateDataKeyRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	var keyBuf [8]string
	ctxKeys := sortedKeys(req.EncryptionContext, keyBuf[:])
	lengthParam := ""
	if req.KeySpec != "" {
		lengthParam = `"keySpec":` + string(appendJSONString(nil, req.KeySpec))
	} else if req.NumberOfBytes != nil {
		lengthParam = `"numberOfBytes":` + strconv.Itoa(*req.NumberOfBytes)
	}
	ev.params = kmsParams(req.KeyID, req.EncryptionContext, ctxKeys, "", lengthParam)
	key, aerr := s.requestKey(req.KeyID, ev, "GenerateDataKey")
	if aerr != nil {
		return nil, aerr
	}
	size := 0
	switch {
	case (req.KeySpec == "") == (req.NumberOfBytes == nil):
		return nil, &apiError{"ValidationException", "Please specify either number of bytes or key spec."}
	case req.KeySpec == "AES_256":
		size = 32
	case req.KeySpec == "AES_128":
		size = 16
	case req.KeySpec != "":
		return nil, &apiError{"ValidationException", "1 validation error detected: Value '" + req.KeySpec + "' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"}
	case *req.NumberOfBytes < 1 || *req.NumberOfBytes > maxDataKeyBytes:
		return nil, &apiError{"ValidationException", "1 validation error detected: Value '" + strconv.Itoa(*req.NumberOfBytes) + "' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"}
	default:
		size = *req.NumberOfBytes
	}
	if aerr := checkUsable(key, "", req.DryRun); aerr != nil {
		return nil, aerr
	}
	dataKey := make([]byte, size)
	fillRandom(dataKey)
	var blobBuf [1536]byte
	blob := key.seal(blobBuf[:0], dataKey, req.EncryptionContext, ctxKeys)
	out = append(out, `{"CiphertextBlob":"`...)
	out = base64.StdEncoding.AppendEncode(out, blob)
	out = append(out, `","KeyId":`...)
	out = appendJSONString(out, key.arn)
	out = append(out, `,"Plaintext":"`...)
	out = base64.StdEncoding.AppendEncode(out, dataKey)
	return append(out, `"}`...), nil
}

// describeKey answers with the metadata of a symmetric, customer managed AWS_KMS key; disabled keys are described too.
// https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html#API_DescribeKey_ResponseSyntax
func (s *Server) describeKey(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req describeKeyRequest
	if err := decodeRequest(body, &req); err != nil {
		return nil, err
	}
	ev.params = kmsParams(req.KeyID, nil, nil, "", "")
	key, aerr := s.requestKey(req.KeyID, ev, "DescribeKey")
	if aerr != nil {
		return nil, aerr
	}
	state := key.state.Load()
	out = append(out, `{"KeyMetadata":{"AWSAccountId":`...)
	out = appendJSONString(out, s.opts.AccountID)
	out = append(out, `,"Arn":`...)
	out = appendJSONString(out, key.arn)
	out = append(out, `,"CreationDate":`...)
	out = appendEpochSeconds(out, key.created)
	out = append(out, `,"CustomerMasterKeySpec":"SYMMETRIC_DEFAULT",`...)
	if state == keyPendingDeletion {
		key.mu.Lock()
		out = append(out, `"DeletionDate":`...)
		out = appendEpochSeconds(out, key.deletionDate)
		out = append(out, ',')
		key.mu.Unlock()
	}
	out = append(out, `"Description":"","Enabled":`...)
	out = strconv.AppendBool(out, state == keyEnabled)
	out = append(out, `,"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"KeyId":`...)
	out = appendJSONString(out, key.id)
	out = append(out, `,"KeyManager":"CUSTOMER","KeySpec":"SYMMETRIC_DEFAULT","KeyState":"`...)
	out = append(out, keyStateNames[state]...)
	out = append(out, `","KeyUsage":"ENCRYPT_DECRYPT","MultiRegion":false,"Origin":"AWS_KMS"`...)
	if state == keyPendingDeletion {
		key.mu.Lock()
		out = append(out, `,"PendingDeletionWindowInDays":`...)
		out = strconv.AppendInt(out, int64(key.pendingDays), 10)
		key.mu.Unlock()
	}
	return append(out, `}}`...), nil
}

// requestKey resolves a required KeyId (recording the key for resources), applies any armed fault, so a
// faulted call is logged against its key as AWS would, then validates it and authorizes action on it.
func (s *Server) requestKey(keyID *string, ev *event, action string) (*kmsKey, *apiError) {
	var key *kmsKey
	if keyID != nil {
		key = s.lookupKey(*keyID)
		ev.key = key
	}
	if errType, ok := s.takeFault(ev.name); ok {
		return nil, faultError(ev.source, errType)
	}
	if keyID == nil {
		return nil, nullValue("keyId")
	}
	if aerr := checkKeyID(*keyID); aerr != nil {
		return nil, aerr
	}
	if key == nil {
		return nil, s.keyNotFound(*keyID)
	}
	if aerr := s.authorize(ev, action, key.arn, ""); aerr != nil {
		return nil, aerr
	}
	return key, nil
}

func checkKeyID(keyID string) *apiError {
	if len(keyID) == 0 || len(keyID) > 2048 {
		return &apiError{"ValidationException", "1 validation error detected: Value '" + keyID + "' at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048"}
	}
	return nil
}

// checkState refuses a key that cannot be used for cryptography: DisabledException for a disabled key and
// KMSInvalidStateException for one pending deletion, with the messages KMS sends
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#API_Decrypt_Errors; the wording as
// recorded in github.com/hashicorp/terraform-provider-aws/issues/17889).
func checkState(key *kmsKey) *apiError {
	switch key.state.Load() {
	case keyDisabled:
		return &apiError{"DisabledException", key.arn + " is disabled."}
	case keyPendingDeletion:
		return pendingDeletion(key)
	}
	return nil
}

func pendingDeletion(key *kmsKey) *apiError {
	return &apiError{"KMSInvalidStateException", key.arn + " is pending deletion."}
}

// checkUsable refuses a key in a state that cannot encrypt or decrypt, an algorithm a symmetric key does not
// have, and dry runs.
func checkUsable(key *kmsKey, algorithm string, dryRun bool) *apiError {
	if aerr := checkState(key); aerr != nil {
		return aerr
	}
	switch algorithm {
	case "", symmetricDefault:
	case "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE":
		return &apiError{"InvalidKeyUsageException", "The encryption algorithm " + algorithm + " is not compatible with the type of the specified KMS key " + key.arn + "."}
	default:
		return &apiError{"ValidationException", "1 validation error detected: Value '" + algorithm + "' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"}
	}
	if dryRun {
		return &apiError{"DryRunOperationException", "The request would have succeeded, but the DryRun option is set."}
	}
	return nil
}

func nullValue(member string) *apiError {
	return &apiError{"ValidationException", "1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null"}
}

func invalidCiphertext() *apiError {
	return &apiError{"InvalidCiphertextException", ""}
}

func algorithmOrDefault(a string) string {
	if a == "" {
		return symmetricDefault
	}
	return a
}

// kmsParams builds requestParameters as CloudTrail logs them: keyId as sent, the context, never any plaintext.
func kmsParams(keyID *string, context map[string]string, ctxKeys []string, algorithm, extra string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if keyID != nil {
		b = append(b, `"keyId":`...)
		b = appendJSONString(b, *keyID)
	}
	if len(context) > 0 {
		sep()
		b = append(b, `"encryptionContext":`...)
		b = appendStringMap(b, context, ctxKeys)
	}
	if algorithm != "" {
		sep()
		b = append(b, `"encryptionAlgorithm":`...)
		b = appendJSONString(b, algorithm)
	}
	if extra != "" {
		sep()
		b = append(b, extra...)
	}
	return append(b, '}')
}
