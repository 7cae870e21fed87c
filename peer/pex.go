package peer

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// PexExtension is the extension name of peer exchange (BEP 11) in the "m" dict of an
// extension handshake.
const PexExtension = "ut_pex"

// PexID is the extended message id we ask peers to send ut_pex messages under, in the "m"
// dict of our extension handshake. libtorrent uses the same number.
const PexID uint8 = 1

// Limits on a ut_pex message. libtorrent lists at most 100 added peers per message and
// disconnects a peer whose message exceeds 500 KiB; its "dropped" lists are not capped.
const (
	// MaxPexMessageLen caps the payload ParsePexMessage accepts, in bytes. It holds some
	// 10,000 IPv4 entries; real messages are a few hundred bytes.
	MaxPexMessageLen = 64 << 10
	// MaxPexEntries is the most entries ParsePexMessage keeps of each list; the rest of a
	// longer list is dropped unread. Marshal refuses longer lists.
	MaxPexEntries = 200
)

// Flags of an added peer (BEP 11, one byte per entry in added.f and added6.f).
const (
	PexEncryption = 0x01 // prefers encrypted connections
	PexSeed       = 0x02 // is a seed or upload-only
	PexUTP        = 0x04 // supports uTP
	PexHolepunch  = 0x08 // supports ut_holepunch
	PexReachable  = 0x10 // the sender connected to it: it accepts connections
)

// PexMessage is the payload of a ut_pex extended message (BEP 11): the peers the sender
// connected to since its last message, and those it lost. Addresses are the peers' listen
// addresses, IPv4 ones in Added and Dropped, IPv6 ones in Added6 and Dropped6.
type PexMessage struct {
	Added   []netip.AddrPort
	Dropped []netip.AddrPort
	// AddedFlags holds one byte of Pex* flags per Added entry, or is nil when the sender
	// gave none (the key is optional).
	AddedFlags []byte
	Added6     []netip.AddrPort
	Dropped6   []netip.AddrPort
	// Added6Flags is AddedFlags for Added6.
	Added6Flags []byte
}

// pexDict is the bencode form of a PexMessage: compact entries, 6 bytes (IPv4 address, port)
// or 18 bytes (IPv6 address, port) each, ports big-endian.
type pexDict struct {
	Added    []byte `bencode:"added"`
	AddedF   []byte `bencode:"added.f"`
	Added6   []byte `bencode:"added6,omitempty"`
	Added6F  []byte `bencode:"added6.f,omitempty"`
	Dropped  []byte `bencode:"dropped"`
	Dropped6 []byte `bencode:"dropped6,omitempty"`
}

// Marshal returns the payload of an Extended message. The IPv4 keys are always present (as
// libtorrent sends them, and it reads added only with an added.f of matching length), the
// IPv6 keys only when they hold entries; a nil flags slice is sent as zero flags. It refuses
// entries of the wrong family (an IPv4-mapped address belongs in Added, unmapped), flags of
// another length than their list, and lists longer than MaxPexEntries, so what it returns
// parses back to m.
func (m PexMessage) Marshal() ([]byte, error) {
	var d pexDict
	var err error
	if d.Added, err = appendCompact(nil, m.Added, false); err != nil {
		return nil, fmt.Errorf("peer: encode pex added: %w", err)
	}
	if d.Dropped, err = appendCompact(nil, m.Dropped, false); err != nil {
		return nil, fmt.Errorf("peer: encode pex dropped: %w", err)
	}
	if d.Added6, err = appendCompact(nil, m.Added6, true); err != nil {
		return nil, fmt.Errorf("peer: encode pex added6: %w", err)
	}
	if d.Dropped6, err = appendCompact(nil, m.Dropped6, true); err != nil {
		return nil, fmt.Errorf("peer: encode pex dropped6: %w", err)
	}
	if d.AddedF, err = pexFlags(m.AddedFlags, len(m.Added)); err != nil {
		return nil, fmt.Errorf("peer: encode pex added.f: %w", err)
	}
	if d.Added6F, err = pexFlags(m.Added6Flags, len(m.Added6)); err != nil {
		return nil, fmt.Errorf("peer: encode pex added6.f: %w", err)
	}
	if d.Added == nil {
		d.Added = []byte{}
	}
	if d.AddedF == nil {
		d.AddedF = []byte{}
	}
	if d.Dropped == nil {
		d.Dropped = []byte{}
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("peer: encode pex message: %w", err)
	}
	return b, nil
}

// appendCompact appends the compact form of addrs; v6 selects 18-byte entries.
func appendCompact(b []byte, addrs []netip.AddrPort, v6 bool) ([]byte, error) {
	if len(addrs) > MaxPexEntries {
		return nil, fmt.Errorf("%d entries, limit %d", len(addrs), MaxPexEntries)
	}
	for _, a := range addrs {
		ip := a.Addr()
		switch {
		case !v6 && ip.Is4():
			b = append(b, ip.AsSlice()...)
		case v6 && ip.Is6() && ip.Zone() == "":
			s := ip.As16()
			b = append(b, s[:]...)
		default:
			return nil, fmt.Errorf("address %v does not belong in this list", a)
		}
		b = append(b, byte(a.Port()>>8), byte(a.Port()))
	}
	return b, nil
}

// pexFlags checks flags against a list of n entries; nil becomes n zero bytes.
func pexFlags(flags []byte, n int) ([]byte, error) {
	if flags == nil {
		if n == 0 {
			return nil, nil
		}
		return make([]byte, n), nil
	}
	if len(flags) != n {
		return nil, fmt.Errorf("%d flags for %d entries", len(flags), n)
	}
	return flags, nil
}

// ParsePexMessage parses the payload of a ut_pex extended message: one bencoded dict whose
// keys, all optional, must be strings (unknown keys are ignored). It accepts at most
// MaxPexMessageLen bytes and keeps at most MaxPexEntries entries of each list, dropping the
// rest. An error names the key at fault: a value that is not a string, a list whose length
// is not a multiple of its entry size (6 or 18 bytes), or flags of another length than their
// list. Absent or empty flags give nil flags.
func ParsePexMessage(payload []byte) (PexMessage, error) {
	if len(payload) > MaxPexMessageLen {
		return PexMessage{}, fmt.Errorf("peer: pex message of %d bytes, limit %d", len(payload), MaxPexMessageLen)
	}
	if len(payload) == 0 || payload[0] != 'd' {
		return PexMessage{}, errors.New("peer: pex message is not a dict")
	}
	dec := bencode.NewDecoder(bytes.NewReader(payload))
	dec.MaxStrLen = int64(len(payload))
	dec.MaxDepth = 8
	var d pexDict
	if err := dec.Decode(&d); err != nil {
		return PexMessage{}, fmt.Errorf("peer: parse pex message: %w", err)
	}
	if dec.Offset != int64(len(payload)) {
		return PexMessage{}, fmt.Errorf("peer: pex message: %d bytes after the dict", int64(len(payload))-dec.Offset)
	}
	var m PexMessage
	var err error
	if m.Added, err = parseCompact(d.Added, "added", 6); err != nil {
		return PexMessage{}, err
	}
	if m.Dropped, err = parseCompact(d.Dropped, "dropped", 6); err != nil {
		return PexMessage{}, err
	}
	if m.Added6, err = parseCompact(d.Added6, "added6", 18); err != nil {
		return PexMessage{}, err
	}
	if m.Dropped6, err = parseCompact(d.Dropped6, "dropped6", 18); err != nil {
		return PexMessage{}, err
	}
	if m.AddedFlags, err = parseFlags(d.AddedF, "added.f", len(d.Added)/6, len(m.Added)); err != nil {
		return PexMessage{}, err
	}
	if m.Added6Flags, err = parseFlags(d.Added6F, "added6.f", len(d.Added6)/18, len(m.Added6)); err != nil {
		return PexMessage{}, err
	}
	return m, nil
}

// parseCompact reads the first MaxPexEntries entries of a compact list of size-byte entries.
func parseCompact(b []byte, key string, size int) ([]netip.AddrPort, error) {
	if len(b)%size != 0 {
		return nil, fmt.Errorf("peer: pex message: %s of %d bytes, not a multiple of %d", key, len(b), size)
	}
	n := min(len(b)/size, MaxPexEntries)
	if n == 0 {
		return nil, nil
	}
	addrs := make([]netip.AddrPort, n)
	for i := range addrs {
		e := b[i*size : (i+1)*size]
		ip, _ := netip.AddrFromSlice(e[:size-2])
		addrs[i] = netip.AddrPortFrom(ip, uint16(e[size-2])<<8|uint16(e[size-1]))
	}
	return addrs, nil
}

// parseFlags checks a flags string against its list of n entries, of which kept were kept.
// Absent or empty flags give nil: the key is optional.
func parseFlags(f []byte, key string, n, kept int) ([]byte, error) {
	if len(f) == 0 {
		return nil, nil
	}
	if len(f) != n {
		return nil, fmt.Errorf("peer: pex message: %s of %d bytes for %d entries", key, len(f), n)
	}
	return f[:kept:kept], nil
}
