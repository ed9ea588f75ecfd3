package rules

import (
	"bytes"
	"strings"
)

// fieldIndex maps the dotted paths read from records to slots.
type fieldIndex struct {
	paths []string
	root  *pathNode
}

// nodeKind says what the scanner does with the value under a key.
type nodeKind uint8

const (
	nodePath      nodeKind = iota // an indexed path: a leaf with a slot, or a step towards one
	nodeNested                    // an object that is itself a record (EventBridge's "detail")
	nodeContainer                 // at a document's top level, an array of items ({"Records":[...]})
)

type pathNode struct {
	children []pathChild
	table    []int // for nodes with many children: open addressing, index+1 into children
	slot     int   // -1 when the path continues below
	kind     nodeKind
	shape    shape // for containers: what their items are counted as
}

type pathChild struct {
	key  string
	node *pathNode
}

// manyChildren is where a linear scan of the keys gives way to the hash table: the root holds
// every top-level field of every shape, and records have some twenty keys each.
const manyChildren = 8

func (n *pathNode) child(key []byte) *pathNode {
	if n.table == nil {
		for i := range n.children {
			if c := &n.children[i]; len(c.key) == len(key) && c.key == string(key) {
				return c.node
			}
		}
		return nil
	}
	mask := len(n.table) - 1
	for h := keyHash(key) & mask; ; h = (h + 1) & mask {
		i := n.table[h]
		if i == 0 {
			return nil
		}
		if c := &n.children[i-1]; len(c.key) == len(key) && c.key == string(key) {
			return c.node
		}
	}
}

// keyHash is 32-bit FNV-1a: keys are short, and it spreads eventName, eventTime and eventType apart.
func keyHash(key []byte) int {
	h := 2166136261
	for _, c := range key {
		h = (h ^ int(c)) * 16777619 & 0xffffffff
	}
	return h
}

func (n *pathNode) add(key string) *pathNode {
	next := &pathNode{slot: -1}
	n.children = append(n.children, pathChild{key: key, node: next})
	if len(n.children) > manyChildren {
		size := 16
		for size < 4*len(n.children) {
			size *= 2
		}
		n.table = make([]int, size)
		for i, c := range n.children {
			h := keyHash([]byte(c.key)) & (size - 1)
			for n.table[h] != 0 {
				h = (h + 1) & (size - 1)
			}
			n.table[h] = i + 1
		}
	}
	return next
}

func newFieldIndex(paths ...string) *fieldIndex {
	idx := &fieldIndex{root: &pathNode{slot: -1}}
	for _, p := range paths {
		idx.slot(p)
	}
	return idx
}

// slot returns the path's slot, adding it when new.
func (idx *fieldIndex) slot(path string) int {
	n := idx.root
	for _, key := range strings.Split(path, ".") {
		next := n.child([]byte(key))
		if next == nil {
			next = n.add(key)
		}
		n = next
	}
	if n.slot < 0 {
		n.slot = len(idx.paths)
		idx.paths = append(idx.paths, path)
	}
	return n.slot
}

// special marks a top-level key whose value the scanner hands on instead of indexing.
func (idx *fieldIndex) special(key string, kind nodeKind, sh shape) {
	n := idx.root.child([]byte(key))
	if n == nil {
		n = idx.root.add(key)
	}
	n.kind, n.shape = kind, sh
}

// fields holds the values found at each slot of one record; arrays met on the way give one value
// per element, as EventBridge matches "resources.ARN" against any resource. inner holds the
// record nested under an EventBridge envelope's "detail".
type fields struct {
	slots [][]fieldValue
	inner *fields
	// nested is true once a nested record was scanned into inner.
	nested bool
}

func (f *fields) reset(n int) {
	if len(f.slots) < n {
		f.slots = append(f.slots, make([][]fieldValue, n-len(f.slots))...)
	}
	for i := range f.slots {
		f.slots[i] = f.slots[i][:0]
	}
	if f.nested {
		f.inner.reset(n)
	}
	f.nested = false
}

// detach copies the values out of the scanner's buffers, so that they outlive a refill: a
// document's own fields stay while the items of its Records array stream past.
func (f *fields) detach() {
	for _, vs := range f.slots {
		for i := range vs {
			if vs[i].text != nil {
				vs[i].text = bytes.Clone(vs[i].text)
			}
		}
	}
	if f.nested {
		f.inner.detach()
	}
}

func (f *fields) str(slot int) string { return string(f.bytes(slot)) }

// bytes returns the first string value at slot, or nil.
func (f *fields) bytes(slot int) []byte {
	for _, v := range f.slots[slot] {
		if v.kind == kindString {
			return v.text
		}
	}
	return nil
}

func (f *fields) has(slot int) bool { return len(f.slots[slot]) > 0 }

// mustSlot returns the slot of a path registered at init; an unknown path is a programming error.
func (idx *fieldIndex) mustSlot(path string) int {
	n := idx.root
	for _, key := range strings.Split(path, ".") {
		if n = n.child([]byte(key)); n == nil {
			panic("rules: field " + path + " is not indexed")
		}
	}
	if n.slot < 0 {
		panic("rules: field " + path + " is not a leaf")
	}
	return n.slot
}
