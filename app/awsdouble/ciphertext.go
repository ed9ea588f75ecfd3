package awsdouble

import (
	"encoding/binary"
	"errors"
	"slices"
)

// Ciphertext blob layout (the double's own; real KMS blobs likewise embed the key id so Decrypt can find the key):
//
//	version(1)=1 | len(keyID)(1) | keyID | nonce(12) | AES-256-GCM sealed data with its 16-byte tag
//
// The GCM additional data is the header (version, length, key id) followed by the canonical encryption context,
// so a blob decrypts only under its key with exactly the context it was made with.
const (
	blobVersion   = 1
	nonceSize     = 12
	gcmTagSize    = 16
	maxBlobKeyLen = 255
)

var errMalformedBlob = errors.New("malformed ciphertext blob")

// blobKeyID reads the key id from a blob's header without decrypting it.
func blobKeyID(blob []byte) (string, error) {
	if len(blob) < 2 || blob[0] != blobVersion {
		return "", errMalformedBlob
	}
	n := int(blob[1])
	if n == 0 || len(blob) < 2+n+nonceSize+gcmTagSize {
		return "", errMalformedBlob
	}
	return string(blob[2 : 2+n]), nil
}

// seal encrypts plaintext under k with context bound in, appending the blob to dst.
func (k *kmsKey) seal(dst, plaintext []byte, context map[string]string, sortedKeys []string) []byte {
	start := len(dst)
	dst = append(dst, blobVersion, byte(len(k.id)))
	dst = append(dst, k.id...)
	headerEnd := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	nonce := dst[headerEnd:]
	fillRandom(nonce)
	var aadBuf [256]byte
	aad := appendCanonicalContext(append(aadBuf[:0], dst[start:headerEnd]...), context, sortedKeys)
	return k.aead.Seal(dst, nonce, plaintext, aad)
}

// open decrypts a blob made by seal; any tampering or a context that differs fails.
func (k *kmsKey) open(dst, blob []byte, context map[string]string, sortedKeys []string) ([]byte, error) {
	headerEnd := 2 + int(blob[1])
	nonce := blob[headerEnd : headerEnd+nonceSize]
	var aadBuf [256]byte
	aad := appendCanonicalContext(append(aadBuf[:0], blob[:headerEnd]...), context, sortedKeys)
	return k.aead.Open(dst, nonce, blob[headerEnd+nonceSize:], aad)
}

// appendCanonicalContext appends each pair, in key order, as length-prefixed key and value, so that
// no two different contexts encode alike.
func appendCanonicalContext(dst []byte, context map[string]string, sortedKeys []string) []byte {
	for _, k := range sortedKeys {
		v := context[k]
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// sortedKeys returns the context's keys in order, using buf when it is big enough.
func sortedKeys(context map[string]string, buf []string) []string {
	keys := buf[:0]
	for k := range context {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
