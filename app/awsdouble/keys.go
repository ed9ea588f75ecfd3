package awsdouble

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kmsKey is one symmetric KMS key: its names, its AES-256-GCM material and its state.
type kmsKey struct {
	id, arn string
	aliases []string // "alias/name" as created
	created time.Time
	aead    cipher.AEAD  // safe for concurrent Seal/Open
	state   atomic.Int32 // keyEnabled, keyDisabled or keyPendingDeletion; read on every cryptographic call

	mu           sync.Mutex // guards the fields below
	deletionDate time.Time
	pendingDays  int
	policy       string
}

// Key states, after https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html .
const (
	keyEnabled int32 = iota
	keyDisabled
	keyPendingDeletion
)

var keyStateNames = [...]string{keyEnabled: "Enabled", keyDisabled: "Disabled", keyPendingDeletion: "PendingDeletion"}

// defaultKeyPolicy is the policy KMS gives a key created without one, in the layout GetKeyPolicy returns it
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html; the layout is that of the
// ct-put-key-policy.md example in infra/rules/testdata/cloudtrail).
func defaultKeyPolicy(account string) string {
	return "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n" +
		"    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n" +
		"      \"AWS\" : \"arn:aws:iam::" + account + ":root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}"
}

// CreateKey makes a symmetric encryption key with a random id; alias is "" or "alias/name".
func (s *Server) CreateKey(alias string) Key { return s.CreateKeyWithID(newUUID(), alias) }

// CreateKeyWithID makes a key with a chosen id, so local runs and tests can name it in advance.
// Creating an id that exists adds alias to it and keeps its material. The id must be 1 to 255 bytes
// (KMS key ids are 36-character UUIDs) because ciphertext blobs carry it.
func (s *Server) CreateKeyWithID(id, alias string) Key {
	if len(id) == 0 || len(id) > maxBlobKeyLen {
		panic(fmt.Sprintf("awsdouble: key id %q must be 1 to %d bytes", id, maxBlobKeyLen))
	}
	if alias != "" && !strings.HasPrefix(alias, "alias/") {
		alias = "alias/" + alias
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		k = &kmsKey{
			id:      id,
			arn:     s.keyARN(id),
			created: s.opts.Now().UTC(),
			aead:    newKeyMaterial(),
			policy:  defaultKeyPolicy(s.opts.AccountID),
		}
		s.keys[k.id] = k
		s.keys[k.arn] = k
	}
	if alias != "" {
		k.aliases = append(k.aliases, alias)
		s.keys[alias] = k
		s.keys[s.aliasARN(alias)] = k
	}
	return Key{ID: k.id, ARN: k.arn}
}

// DisableKey sets the key's state to Disabled without a call (and so without a record); keyID may be an id,
// key ARN, alias name or alias ARN. A key pending deletion stays pending.
func (s *Server) DisableKey(keyID string) error {
	k := s.lookupKey(keyID)
	if k == nil {
		return fmt.Errorf("awsdouble: key %q not found", keyID)
	}
	k.state.CompareAndSwap(keyEnabled, keyDisabled)
	return nil
}

// KeyState is the key's state as DescribeKey names it ("Enabled", "Disabled", "PendingDeletion"), or "" for
// an unknown key.
func (s *Server) KeyState(keyID string) string {
	k := s.lookupKey(keyID)
	if k == nil {
		return ""
	}
	return keyStateNames[k.state.Load()]
}

func (s *Server) keyARN(id string) string {
	return "arn:aws:kms:" + s.opts.Region + ":" + s.opts.AccountID + ":key/" + id
}

func (s *Server) aliasARN(alias string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", s.opts.Region, s.opts.AccountID, alias)
}

// lookupKey resolves any of the four forms KMS accepts for KeyId; nil when unknown.
func (s *Server) lookupKey(keyID string) *kmsKey {
	s.keysMu.RLock()
	k := s.keys[keyID]
	s.keysMu.RUnlock()
	return k
}

func newKeyMaterial() cipher.AEAD {
	material := make([]byte, 32)
	fillRandom(material)
	block, err := aes.NewCipher(material)
	if err != nil {
		panic(err) // 32 bytes is always a valid AES key
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// fillRandom fills b from crypto/rand, whose Read never returns an error since Go 1.24 (it
// crashes the program instead): https://pkg.go.dev/crypto/rand#Read .
func fillRandom(b []byte) { _, _ = rand.Read(b) }

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	fillRandom(b[:])
	return string(appendUUID(make([]byte, 0, 36), b[:]))
}

// appendUUID formats 16 random bytes as a version 4 UUID.
func appendUUID(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	for i, c := range b[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0x0f])
	}
	return dst
}

// keyNotFound words the error as KMS does: an alias is always named by its ARN; a well-formed key id or key
// ARN that names no key is "Key '<key ARN>' does not exist" (as recorded in
// github.com/hashicorp/boundary-reference-architecture/issues/22); anything else is an invalid keyId.
func (s *Server) keyNotFound(keyID string) *apiError {
	switch {
	case strings.HasPrefix(keyID, "alias/"):
		return &apiError{"NotFoundException", "Alias " + s.aliasARN(keyID) + " is not found."}
	case strings.Contains(keyID, ":alias/"):
		return &apiError{"NotFoundException", "Alias " + keyID + " is not found."}
	case isKeyID(keyID):
		return &apiError{"NotFoundException", "Key '" + s.keyARN(keyID) + "' does not exist"}
	case isKeyARN(keyID):
		return &apiError{"NotFoundException", "Key '" + keyID + "' does not exist"}
	}
	return &apiError{"NotFoundException", "Invalid keyId '" + keyID + "'"}
}

// isKeyID reports whether id has the shape of a KMS key id: a UUID, or mrk- and 32 hex digits for
// multi-Region keys (https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-id).
func isKeyID(id string) bool {
	if hexDigits, ok := strings.CutPrefix(id, "mrk-"); ok {
		return len(hexDigits) == 32 && strings.Trim(hexDigits, "0123456789abcdef") == ""
	}
	if len(id) != 36 {
		return false
	}
	for i := range len(id) {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if id[i] != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdef", rune(id[i])):
			return false
		}
	}
	return true
}

// isKeyARN reports whether arn is arn:aws:kms:<region>:<account>:key/<key id>.
func isKeyARN(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "arn:aws:kms:")
	if !ok {
		return false
	}
	_, rest, _ = strings.Cut(rest, ":") // region
	account, resource, _ := strings.Cut(rest, ":")
	id, ok := strings.CutPrefix(resource, "key/")
	return ok && len(account) == 12 && isKeyID(id)
}
