package storage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"swarm/metainfo"
	"swarm/piece"
)

// resumeSeeds returns records the fuzzer starts from, valid and not.
func resumeSeeds() map[string][]byte {
	have := piece.NewBitfield(11)
	have.Set(0)
	have.Set(10)
	valid := encodeResume(&record{
		hash:   metainfo.Hash{0xde, 0xad},
		have:   have,
		stamps: []stamp{{1000, 1700000000123456789}, {-1, 0}, {0, 42}},
	})
	withCRC := func(b []byte) []byte {
		b = bytes.Clone(b[:len(b)-resumeCRC])
		return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	edit := func(at int, v ...byte) []byte {
		b := bytes.Clone(valid)
		copy(b[at:], v)
		return withCRC(b)
	}
	empty := encodeResume(&record{have: piece.NewBitfield(0)})
	return map[string][]byte{
		"valid":          valid,
		"empty-torrent":  empty,
		"bad-magic":      edit(0, 'X'),
		"version-2":      edit(7, 2),
		"truncated":      valid[:len(valid)-5],
		"bad-checksum":   append(bytes.Clone(valid[:len(valid)-1]), valid[len(valid)-1]^1),
		"spare-bit-set":  edit(resumeHeader+1, 0x81),
		"negative-size":  edit(resumeHeader+2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe),
		"huge-counts":    edit(28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"header-only":    valid[:resumeHeader],
		"nothing":        {},
		"pieces-no-file": edit(32, 0, 0, 0, 0),
	}
}

// FuzzLoadResume feeds the resume record parser hostile bytes: it must not
// panic, must allocate no more than the input's size, and what it accepts
// must encode back to the same bytes and compare against a torrent cleanly.
func FuzzLoadResume(f *testing.F) {
	for _, b := range resumeSeeds() {
		f.Add(b)
	}
	stamps := []stamp{{1000, 1700000000123456789}, {-1, 0}, {0, 42}}
	check := func(t *testing.T, data []byte) {
		rec, err := decodeResume(data)
		if err != nil {
			if rec != nil {
				t.Fatalf("decodeResume returned a record and error %v", err)
			}
			return
		}
		if int64(len(rec.stamps))*resumeStamp > int64(len(data)) || int64(rec.have.Len()) > 8*int64(len(data)) {
			t.Fatalf("record of %d pieces, %d files from %d bytes", rec.have.Len(), len(rec.stamps), len(data))
		}
		if got := encodeResume(rec); !bytes.Equal(got, data) {
			t.Fatalf("encodeResume(decodeResume(%x)) = %x", data, got)
		}
		_ = rec.matches(metainfo.Hash{0xde, 0xad}, 11, stamps)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		// Again with a correct checksum, so the fuzzer gets past it.
		if len(data) >= resumeCRC {
			body := data[:len(data)-resumeCRC]
			check(t, binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli)))
		}
	})
}

func TestResumeSeedsDecodeAsExpected(t *testing.T) {
	for name, b := range resumeSeeds() {
		_, err := decodeResume(b)
		if ok := name == "valid" || name == "empty-torrent"; (err == nil) != ok {
			t.Errorf("decodeResume(%s) error = %v, want ok %v", name, err, ok)
		}
	}
}
