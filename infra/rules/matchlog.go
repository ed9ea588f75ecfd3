package rules

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// A matchLog collects one worker's matches, encoded in one byte slab, up to spillAt bytes; past
// that it writes them, sorted, to a temporary file (a run) and starts again. At the end the runs
// and what is left in memory are merged into time order. So memory stays flat however many
// records match, and a match costs no allocation while files are read.
//
// An entry: time (unix nanoseconds, 8 bytes), file index (4), position (8), rule index (4), then
// eventID, eventName, errorCode, principal, source IP, request id (empty but for a join rule's
// match) and key (empty unless the replay asked for keys), each a uvarint length and the bytes.
type matchLog struct {
	buf     []byte
	ents    []entry
	runs    []*os.File
	spillAt int
	err     error // a spill that failed; matches then stay in memory
}

type entry struct{ off, end int }

const entryHeader = 24

// defaultSpillAt keeps a worker's slab under 8 MiB: the benchmark corpus's 86,000 matches (13 MB
// on two workers) spill once at most.
const defaultSpillAt = 8 << 20

func newMatchLog(spillAt int) *matchLog {
	if spillAt <= 0 {
		spillAt = defaultSpillAt
	}
	return &matchLog{spillAt: spillAt}
}

func (l *matchLog) add(rule, file, position int, sf *summaryFields) {
	nanos := sf.eventTime.UnixNano()
	if l.buf == nil {
		// Once, at its full size: grown by append it would copy itself some 40 MB on the way.
		l.buf = make([]byte, 0, l.spillAt+64<<10)
	}
	off := len(l.buf)
	b := binary.LittleEndian.AppendUint64(l.buf, uint64(nanos)) //nolint:gosec // the bits kept as they are, read back as int64
	b = binary.LittleEndian.AppendUint32(b, uint32(file))       //nolint:gosec // files are counted from 0, far fewer than 2^32
	b = binary.LittleEndian.AppendUint64(b, uint64(position))   //nolint:gosec // lines and items count from 0
	b = binary.LittleEndian.AppendUint32(b, uint32(rule))       //nolint:gosec // an index into the run's rules
	for _, s := range [...][]byte{sf.eventID, sf.eventName, sf.errorCode, sf.principal, sf.ip, sf.requestID, sf.key} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	l.buf = b
	l.ents = append(l.ents, entry{off, len(b)})
	if len(l.buf) >= l.spillAt && l.err == nil {
		l.spill()
	}
}

// compareEntries orders by time, then file, position and rule, as the report lists matches.
func compareEntries(a, b []byte) int {
	le := binary.LittleEndian
	return cmp.Or(
		cmp.Compare(int64(le.Uint64(a)), int64(le.Uint64(b))), //nolint:gosec // the int64 that add wrote
		cmp.Compare(le.Uint32(a[8:]), le.Uint32(b[8:])),
		cmp.Compare(le.Uint64(a[12:]), le.Uint64(b[12:])),
		cmp.Compare(le.Uint32(a[20:]), le.Uint32(b[20:])),
	)
}

func (l *matchLog) sort() {
	slices.SortFunc(l.ents, func(x, y entry) int { return compareEntries(l.buf[x.off:x.end], l.buf[y.off:y.end]) })
}

func (l *matchLog) spill() {
	l.sort()
	f, err := os.CreateTemp("", "kmswatch-replay-*.run")
	if err != nil {
		l.err = fmt.Errorf("matches kept in memory: a temporary file: %w", err)
		return
	}
	w := bufio.NewWriterSize(f, 64<<10)
	var size [binary.MaxVarintLen64]byte
	for _, e := range l.ents {
		_, _ = w.Write(binary.AppendUvarint(size[:0], uint64(e.end-e.off))) //nolint:gosec // end > off
		_, _ = w.Write(l.buf[e.off:e.end])                                  // the writer keeps the first error for Flush
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		l.err = fmt.Errorf("matches kept in memory: writing %s: %w", f.Name(), err)
		return
	}
	l.runs = append(l.runs, f)
	l.buf, l.ents = l.buf[:0], l.ents[:0]
}

// close removes the log's temporary files.
func (l *matchLog) close() {
	for _, f := range l.runs {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	l.runs = nil
}

// runSource is a sorted run, in memory or in a file, read one entry at a time.
type runSource struct {
	cur  []byte
	mem  *matchLog // in memory: the entries of mem, from next
	next int
	r    *bufio.Reader
	buf  []byte
}

func (rs *runSource) advance() (bool, error) {
	if rs.mem != nil {
		if rs.next >= len(rs.mem.ents) {
			return false, nil
		}
		e := rs.mem.ents[rs.next]
		rs.cur, rs.next = rs.mem.buf[e.off:e.end], rs.next+1
		return true, nil
	}
	n, err := binary.ReadUvarint(rs.r)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if uint64(cap(rs.buf)) < n {
		rs.buf = make([]byte, n)
	}
	rs.buf = rs.buf[:n]
	if _, err := io.ReadFull(rs.r, rs.buf); err != nil {
		return false, err
	}
	rs.cur = rs.buf
	return true, nil
}

type runHeap []*runSource

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compareEntries(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runSource)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeMatches calls fn with every match of the logs in order; files names the file indexes.
func mergeMatches(logs []*matchLog, files []inputFile, fn func(Match)) error {
	var h runHeap
	for _, l := range logs {
		l.sort()
		for _, f := range l.runs {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			h = append(h, &runSource{r: bufio.NewReaderSize(f, 64<<10)})
		}
		h = append(h, &runSource{mem: l})
	}
	live := h[:0]
	for _, rs := range h {
		ok, err := rs.advance()
		if err != nil {
			return err
		}
		if ok {
			live = append(live, rs)
		}
	}
	h = live
	heap.Init(&h)
	names := make(internedStrings)
	for h.Len() > 0 {
		rs := h[0]
		fn(decodeMatch(rs.cur, files, names))
		ok, err := rs.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// internedStrings shares the strings that repeat across matches: event names, error codes,
// principals, addresses.
type internedStrings map[string]string

func (in internedStrings) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 1<<14 {
		in[s] = s
	}
	return s
}

func decodeMatch(e []byte, files []inputFile, names internedStrings) Match {
	le := binary.LittleEndian
	m := Match{
		Rule: int(le.Uint32(e[20:])), File: files[le.Uint32(e[8:])].path, Position: int(le.Uint64(e[12:])), //nolint:gosec // what add wrote
		fileIndex: int(le.Uint32(e[8:])),
	}
	m.EventTime = time.Unix(0, int64(le.Uint64(e))).UTC() //nolint:gosec // the int64 that add wrote
	rest := e[entryHeader:]
	var parts [7][]byte
	for i := range parts {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) { //nolint:gosec // len(rest) >= k > 0 here
			break // not an entry add wrote: leave the rest empty rather than read past it
		}
		end := k + int(n) //nolint:gosec // n is at most len(rest), checked above
		parts[i], rest = rest[k:end], rest[end:]
	}
	m.EventID = string(parts[0])
	m.EventName, m.ErrorCode, m.Principal, m.SourceIPAddress = names.get(parts[1]), names.get(parts[2]), names.get(parts[3]), names.get(parts[4])
	m.RequestID = string(parts[5])
	if len(parts[6]) > 0 { // kept only when the replay asked for keys
		m.Key = names.get(parts[6])
	}
	return m
}
