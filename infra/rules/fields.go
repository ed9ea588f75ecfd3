package rules

import "strings"

// fieldIndex maps the dotted paths read from records to slots.
type fieldIndex struct {
	paths []string
	root  *pathNode
}

type pathNode struct {
	children []pathChild // few: a linear scan beats a map here
	slot     int         // -1 when the path continues below
}

type pathChild struct {
	key  string
	node *pathNode
}

func (n *pathNode) child(key []byte) *pathNode {
	for i := range n.children {
		if c := &n.children[i]; len(c.key) == len(key) && c.key == string(key) {
			return c.node
		}
	}
	return nil
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
			next = &pathNode{slot: -1}
			n.children = append(n.children, pathChild{key: key, node: next})
		}
		n = next
	}
	if n.slot < 0 {
		n.slot = len(idx.paths)
		idx.paths = append(idx.paths, path)
	}
	return n.slot
}

// fields holds the values found at each slot of one record; arrays met on the way give one value
// per element, as EventBridge matches "resources.ARN" against any resource.
type fields struct {
	slots [][]fieldValue
}

func (f *fields) reset(n int) {
	if len(f.slots) < n {
		f.slots = append(f.slots, make([][]fieldValue, n-len(f.slots))...)
	}
	for i := range f.slots {
		f.slots[i] = f.slots[i][:0]
	}
}

func (f *fields) str(slot int) string {
	for _, v := range f.slots[slot] {
		if v.kind == kindString {
			return string(v.text)
		}
	}
	return ""
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
