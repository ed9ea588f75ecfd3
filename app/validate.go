package app

import (
	"unicode"
	"unicode/utf8"
)

// Limits on caller input.
const (
	// MaxNameChars bounds a record name (characters, not bytes).
	MaxNameChars = 255
	// MaxTextBytes is the KMS Encrypt plaintext limit.
	// https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html
	MaxTextBytes = 4096
	// MaxKeyChars is the KMS KeyId limit.
	// https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html
	MaxKeyChars = 2048
)

// ValidateName checks a record name: present, at most MaxNameChars characters,
// valid UTF-8 and free of control characters (PostgreSQL text cannot hold NUL).
func ValidateName(name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "Name is required")
	case !utf8.ValidString(name):
		return Errorf(EINVALID, "Name must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameChars:
		return Errorf(EINVALID, "Name must be at most %d characters", MaxNameChars)
	case containsControl(name):
		return Errorf(EINVALID, "Name must not contain control characters")
	}
	return nil
}

// ValidateText checks a text to encrypt: present, valid UTF-8, at most MaxTextBytes bytes.
func ValidateText(text string) error {
	switch {
	case text == "":
		return Errorf(EINVALID, "Text is required")
	case !utf8.ValidString(text):
		return Errorf(EINVALID, "Text must be valid UTF-8")
	case len(text) > MaxTextBytes:
		return Errorf(EINVALID, "Text must be at most %d bytes", MaxTextBytes)
	}
	return nil
}

// ValidateKey checks the shape of a caller's key id only: whether it is the
// right key is for KMS to decide, so that a wrong key is refused and audited there.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return Errorf(EINVALID, "Key is required")
	case !utf8.ValidString(key):
		return Errorf(EINVALID, "Key must be valid UTF-8")
	case utf8.RuneCountInString(key) > MaxKeyChars:
		return Errorf(EINVALID, "Key must be at most %d characters", MaxKeyChars)
	case containsControl(key):
		return Errorf(EINVALID, "Key must not contain control characters")
	}
	return nil
}

func containsControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
