package peer

import (
	"fmt"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// ExtensionHandshakeID is the extended message id of the extension handshake (BEP 10).
const ExtensionHandshakeID = 0

// MaxExtensionHandshakeLen caps the bencoded extension handshake ParseExtensionHandshake
// accepts, in bytes. Real ones are a few hundred bytes.
const MaxExtensionHandshakeLen = 64 << 10

// ExtensionHandshake is the payload of the extension handshake (BEP 10), a bencoded dict.
// Zero fields are left out when encoding and mean "not given" when parsing.
type ExtensionHandshake struct {
	// M maps extension names (such as "ut_metadata", BEP 9) to the extended message id the
	// sender wants to receive that extension's messages under. An id of 0 in a later
	// handshake turns the extension off.
	M map[string]uint8
	// V is the client name and version, for display.
	V string
	// Port is the sender's TCP listen port (key "p").
	Port uint16
	// Reqq is how many outstanding requests the sender allows.
	Reqq int
	// MetadataSize is the size in bytes of the info dict (BEP 9).
	MetadataSize int
	// YourIP is the receiver's address as the sender sees it.
	YourIP netip.Addr
}

// extensionHandshakeDict is the bencode form of ExtensionHandshake. Type errors in the
// optional keys are ignored, so an oddity in one of them does not cost us the peer.
type extensionHandshakeDict struct {
	M            map[string]int64 `bencode:"m"`
	V            string           `bencode:"v,omitempty,ignore_unmarshal_type_error"`
	P            int64            `bencode:"p,omitempty,ignore_unmarshal_type_error"`
	Reqq         int64            `bencode:"reqq,omitempty,ignore_unmarshal_type_error"`
	MetadataSize int64            `bencode:"metadata_size,omitempty,ignore_unmarshal_type_error"`
	YourIP       []byte           `bencode:"yourip,omitempty,ignore_unmarshal_type_error"`
}

// Marshal returns the bencoded handshake, ready to be the Payload of an Extended message
// with ExtendedID ExtensionHandshakeID. The "m" key is always present.
func (h ExtensionHandshake) Marshal() ([]byte, error) {
	d := extensionHandshakeDict{
		M:            make(map[string]int64, len(h.M)),
		V:            h.V,
		P:            int64(h.Port),
		Reqq:         int64(h.Reqq),
		MetadataSize: int64(h.MetadataSize),
	}
	for name, id := range h.M {
		d.M[name] = int64(id)
	}
	if h.YourIP.IsValid() {
		d.YourIP = h.YourIP.Unmap().AsSlice()
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("peer: encode extension handshake: %w", err)
	}
	return b, nil
}

// ParseExtensionHandshake parses the payload of an extension handshake. It accepts at most
// MaxExtensionHandshakeLen bytes and ignores keys it does not know. An error names the key at
// fault: "m" must be a dict of ids 0..255, "p" a port, "reqq" and "metadata_size" not
// negative, "yourip" 4 or 16 bytes.
func ParseExtensionHandshake(b []byte) (ExtensionHandshake, error) {
	if len(b) > MaxExtensionHandshakeLen {
		return ExtensionHandshake{}, fmt.Errorf("peer: extension handshake of %d bytes, limit %d", len(b), MaxExtensionHandshakeLen)
	}
	var d extensionHandshakeDict
	if err := bencode.Unmarshal(b, &d); err != nil {
		return ExtensionHandshake{}, fmt.Errorf("peer: parse extension handshake: %w", err)
	}
	h := ExtensionHandshake{V: d.V}
	if len(d.M) > 0 {
		h.M = make(map[string]uint8, len(d.M))
	}
	for name, id := range d.M {
		if id < 0 || id > 255 {
			return ExtensionHandshake{}, fmt.Errorf("peer: extension handshake: m[%q] = %d, want 0..255", name, id)
		}
		h.M[name] = uint8(id)
	}
	if d.P < 0 || d.P > 65535 {
		return ExtensionHandshake{}, fmt.Errorf("peer: extension handshake: p = %d, want 0..65535", d.P)
	}
	h.Port = uint16(d.P)
	if d.Reqq < 0 || int64(int(d.Reqq)) != d.Reqq {
		return ExtensionHandshake{}, fmt.Errorf("peer: extension handshake: reqq = %d", d.Reqq)
	}
	h.Reqq = int(d.Reqq)
	if d.MetadataSize < 0 || int64(int(d.MetadataSize)) != d.MetadataSize {
		return ExtensionHandshake{}, fmt.Errorf("peer: extension handshake: metadata_size = %d", d.MetadataSize)
	}
	h.MetadataSize = int(d.MetadataSize)
	if len(d.YourIP) > 0 {
		ip, ok := netip.AddrFromSlice(d.YourIP)
		if !ok {
			return ExtensionHandshake{}, fmt.Errorf("peer: extension handshake: yourip of %d bytes, want 4 or 16", len(d.YourIP))
		}
		h.YourIP = ip.Unmap()
	}
	return h, nil
}
