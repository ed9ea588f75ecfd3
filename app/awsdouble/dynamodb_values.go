package awsdouble

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
)

// DynamoDB attribute values: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html

// attrValue is one DynamoDB AttributeValue as the wire carries it: its type (S, N, B, BOOL, NULL, L, M, SS,
// NS, BS) and its JSON value.
type attrValue struct {
	typ string
	raw json.RawMessage
}

type item map[string]attrValue

// UnmarshalJSON reads {"S":"..."} and the other one-member forms.
func (v *attrValue) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return errBadAttributeValue
	}
	for typ, raw := range m {
		v.typ, v.raw = typ, raw
	}
	if !slices.Contains([]string{"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"}, v.typ) {
		return errBadAttributeValue
	}
	return nil
}

func (v attrValue) MarshalJSON() ([]byte, error) {
	b := appendJSONString([]byte{'{'}, v.typ)
	b = append(b, ':')
	b = append(b, v.raw...)
	return append(b, '}'), nil
}

type attrValueError struct{}

func (attrValueError) Error() string {
	return "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
}

var errBadAttributeValue = attrValueError{}

// plain is the value as CloudTrail writes a key in requestParameters: the bare string or number.
func (v attrValue) plain() json.RawMessage {
	if v.typ == "N" {
		var s string
		if json.Unmarshal(v.raw, &s) == nil {
			return json.RawMessage(s)
		}
	}
	return v.raw
}

// compareValues orders two values of the same scalar type (S, N, B); ok is false for other types or a mismatch.
func compareValues(a, b attrValue) (int, bool) {
	if a.typ != b.typ {
		return 0, false
	}
	var sa, sb string
	if json.Unmarshal(a.raw, &sa) != nil || json.Unmarshal(b.raw, &sb) != nil {
		return 0, false
	}
	switch a.typ {
	case "S":
		return strings.Compare(sa, sb), true
	case "N":
		ra, okA := new(big.Rat).SetString(sa)
		rb, okB := new(big.Rat).SetString(sb)
		if !okA || !okB {
			return 0, false
		}
		return ra.Cmp(rb), true
	case "B":
		ba, errA := base64.StdEncoding.DecodeString(sa)
		bb, errB := base64.StdEncoding.DecodeString(sb)
		if errA != nil || errB != nil {
			return 0, false
		}
		return bytes.Compare(ba, bb), true
	}
	return 0, false
}

func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
