package private

import (
	"reflect"
	"testing"
)

func TestJournalRoundTrip(t *testing.T) {
	deltas := []seedDelta{
		{userTorrent{1, [20]byte{1}}, delta{up: 5, down: 1 << 40, snatches: 1, seedNanos: 30}},
		{userTorrent{1 << 40, [20]byte{2}}, delta{}},
	}
	ops := []sessionOp{
		{key: sessionKey{user: 7, hash: [20]byte{3}, peer: [20]byte{'p'}}, s: session{up: 9, down: 10, seeder: true, snatched: true}},
		{key: sessionKey{user: 8}, gone: true},
	}
	gotD, gotO, err := decodeJournal(encodeJournal(deltas, ops))
	if err != nil || !reflect.DeepEqual(gotD, deltas) || !reflect.DeepEqual(gotO, ops) {
		t.Errorf("journal round trip: %+v %+v %v", gotD, gotO, err)
	}
	snap := ops[:1]
	if got, err := decodeSnapshot(encodeSnapshot(snap)); err != nil || !reflect.DeepEqual(got, snap) {
		t.Errorf("snapshot round trip: %+v %v", got, err)
	}
	if _, err := decodeSnapshot(encodeSnapshot(ops)); err == nil {
		t.Error("a snapshot with a deleted session decoded without error")
	}
}

// FuzzDecodeJournal: journal and snapshot rows come from the database file,
// which anyone with write access to it could change: decoding never panics
// nor allocates more than the data can hold, and what decodes re-encodes to
// the same bytes.
func FuzzDecodeJournal(f *testing.F) {
	f.Add(encodeJournal([]seedDelta{{userTorrent{1, [20]byte{1}}, delta{up: 5}}},
		[]sessionOp{{key: sessionKey{user: 2}, s: session{up: 1}}, {key: sessionKey{user: 3}, gone: true}}))
	f.Add(encodeSnapshot([]sessionOp{{key: sessionKey{user: 2}, s: session{up: 1, seeder: true}}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, o, err := decodeJournal(b); err == nil {
			if again := encodeJournal(d, o); string(again) != string(b) {
				// Varints have one shortest form; others decode too.
				if d2, o2, err := decodeJournal(again); err != nil || !reflect.DeepEqual(d2, d) || !reflect.DeepEqual(o2, o) {
					t.Fatalf("journal re-encoding differs: %v", err)
				}
			}
		}
		if o, err := decodeSnapshot(b); err == nil {
			if o2, err := decodeSnapshot(encodeSnapshot(o)); err != nil || !reflect.DeepEqual(o2, o) {
				t.Fatalf("snapshot re-encoding differs: %v", err)
			}
		}
	})
}
