package private

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The journal and session snapshot rows are binary, written and read only
// by this package:
//
//	journal row:  version 2, uvarint n, n deltas, uvarint m, m session ops
//	delta:        uvarint user, hash[20], uvarint up, down, snatches, seed
//	              seconds, raw up, raw down (version 1 rows, written before
//	              freeleech, have no raw counts: they equal up and down)
//	session op:   uvarint user, hash[20], peer[20], flags byte, then unless
//	              gone: uvarint up, down
//	snapshot row: version 1, uvarint m, m session ops (never gone)
//
// Flags: 1 gone (deleted), 2 seeder, 4 snatched.

const (
	journalVersion  = 2
	snapshotVersion = 1
)

const (
	flagGone = 1 << iota
	flagSeeder
	flagSnatched
)

// seedDelta is a delta with the seeding time in whole seconds, as written.
type seedDelta struct {
	ut userTorrent
	d  delta // d.seedNanos holds seconds here
}

func appendDelta(b []byte, ut userTorrent, d delta) []byte {
	b = binary.AppendUvarint(b, uint64(ut.user))
	b = append(b, ut.hash[:]...)
	for _, v := range [...]int64{d.up, d.down, d.snatches, d.seedNanos, d.rawUp, d.rawDown} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return b
}

func appendOp(b []byte, op *sessionOp) []byte {
	b = binary.AppendUvarint(b, uint64(op.key.user))
	b = append(b, op.key.hash[:]...)
	b = append(b, op.key.peer[:]...)
	var f byte
	switch {
	case op.gone:
		return append(b, flagGone)
	case op.s.seeder:
		f |= flagSeeder
	}
	if op.s.snatched {
		f |= flagSnatched
	}
	b = append(b, f)
	b = binary.AppendUvarint(b, uint64(op.s.up))
	return binary.AppendUvarint(b, uint64(op.s.down))
}

// encodeJournal encodes one flush: deltas with seeding time in seconds.
func encodeJournal(deltas []seedDelta, ops []sessionOp) []byte {
	b := make([]byte, 0, 1+len(deltas)*40+len(ops)*56)
	b = append(b, journalVersion)
	b = binary.AppendUvarint(b, uint64(len(deltas)))
	for _, sd := range deltas {
		b = appendDelta(b, sd.ut, sd.d)
	}
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for i := range ops {
		b = appendOp(b, &ops[i])
	}
	return b
}

// reader decodes the rows; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("truncated")

func (r *reader) uvarint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 || v > 1<<62 {
		r.err = fmt.Errorf("bad number at byte %d", r.off)
		return 0
	}
	r.off += n
	return int64(v)
}

func (r *reader) bytes(dst []byte) {
	if r.err != nil {
		return
	}
	if len(r.b)-r.off < len(dst) {
		r.err = errShort
		return
	}
	r.off += copy(dst, r.b[r.off:])
}

func (r *reader) byte() byte {
	var b [1]byte
	r.bytes(b[:])
	return b[0]
}

// count reads a count of items at least min bytes long each, bounded by
// what is left, so a corrupt count cannot make the caller allocate much.
func (r *reader) count(min int) int {
	n := r.uvarint()
	if r.err == nil && n > int64((len(r.b)-r.off)/min) {
		r.err = fmt.Errorf("count %d at byte %d exceeds the data", n, r.off)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *reader) op() sessionOp {
	var op sessionOp
	op.key.user = r.uvarint()
	r.bytes(op.key.hash[:])
	r.bytes(op.key.peer[:])
	f := r.byte()
	if f&flagGone != 0 {
		op.gone = true
		return op
	}
	op.s.seeder, op.s.snatched = f&flagSeeder != 0, f&flagSnatched != 0
	op.s.up, op.s.down = r.uvarint(), r.uvarint()
	return op
}

// decodeJournal decodes a journal row.
func decodeJournal(b []byte) ([]seedDelta, []sessionOp, error) {
	r := &reader{b: b}
	v := r.byte()
	if r.err == nil && v != 1 && v != journalVersion {
		return nil, nil, fmt.Errorf("journal row version %d, want 1 or %d", v, journalVersion)
	}
	deltas := make([]seedDelta, r.count(1+20+4))
	for i := range deltas {
		sd := &deltas[i]
		sd.ut.user = r.uvarint()
		r.bytes(sd.ut.hash[:])
		sd.d = delta{up: r.uvarint(), down: r.uvarint(), snatches: r.uvarint(), seedNanos: r.uvarint()}
		if v == 1 {
			sd.d.rawUp, sd.d.rawDown = sd.d.up, sd.d.down
		} else {
			sd.d.rawUp, sd.d.rawDown = r.uvarint(), r.uvarint()
		}
	}
	ops := make([]sessionOp, r.count(1+2*20+1))
	for i := range ops {
		ops[i] = r.op()
	}
	if r.err == nil && r.off != len(b) {
		r.err = fmt.Errorf("%d bytes after the data", len(b)-r.off)
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("journal row: %w", r.err)
	}
	return deltas, ops, nil
}

// encodeSnapshot encodes a chunk of sessions.
func encodeSnapshot(ops []sessionOp) []byte {
	b := make([]byte, 0, 1+len(ops)*56)
	b = append(b, snapshotVersion)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for i := range ops {
		b = appendOp(b, &ops[i])
	}
	return b
}

// encodeSessions encodes a map of sessions as a snapshot chunk.
func encodeSessions(m map[sessionKey]session) []byte {
	b := make([]byte, 0, 8+len(m)*56)
	b = append(b, snapshotVersion)
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, s := range m {
		b = appendOp(b, &sessionOp{key: k, s: s})
	}
	return b
}

// decodeSnapshot decodes a snapshot chunk.
func decodeSnapshot(b []byte) ([]sessionOp, error) {
	r := &reader{b: b}
	if v := r.byte(); r.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("snapshot version %d, want %d", v, snapshotVersion)
	}
	ops := make([]sessionOp, r.count(1+2*20+1))
	for i := range ops {
		if ops[i] = r.op(); ops[i].gone && r.err == nil {
			r.err = errors.New("deleted session in a snapshot")
		}
	}
	if r.err == nil && r.off != len(b) {
		r.err = fmt.Errorf("%d bytes after the data", len(b)-r.off)
	}
	if r.err != nil {
		return nil, fmt.Errorf("session snapshot: %w", r.err)
	}
	return ops, nil
}
