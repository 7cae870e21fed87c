package peer

import (
	"fmt"
	"strconv"
)

// BlockSize is the largest block, in bytes, that a request may ask for and a piece message
// may carry: 16 KiB, the size every mainstream client uses (BEP 3).
const BlockSize = 16 << 10

// ID is a message id, the byte after the length prefix (BEP 3, BEP 5, BEP 10).
type ID uint8

// Message ids this package decodes. Other ids are skipped by the Decoder.
const (
	Choke         ID = 0
	Unchoke       ID = 1
	Interested    ID = 2
	NotInterested ID = 3
	Have          ID = 4
	Bitfield      ID = 5
	Request       ID = 6
	Piece         ID = 7
	Cancel        ID = 8
	Port          ID = 9  // DHT port (BEP 5)
	Suggest       ID = 13 // suggest piece (BEP 6)
	HaveAll       ID = 14 // have all (BEP 6)
	HaveNone      ID = 15 // have none (BEP 6)
	Reject        ID = 16 // reject request (BEP 6)
	AllowedFast   ID = 17 // allowed fast (BEP 6)
	Extended      ID = 20 // extension protocol (BEP 10)
)

var idNames = [...]string{
	Choke:         "choke",
	Unchoke:       "unchoke",
	Interested:    "interested",
	NotInterested: "not interested",
	Have:          "have",
	Bitfield:      "bitfield",
	Request:       "request",
	Piece:         "piece",
	Cancel:        "cancel",
	Port:          "port",
	Suggest:       "suggest",
	HaveAll:       "have all",
	HaveNone:      "have none",
	Reject:        "reject",
	AllowedFast:   "allowed fast",
	Extended:      "extended",
}

// String returns the message name, or "id N" for an id this package does not know.
func (id ID) String() string {
	if int(id) < len(idNames) && idNames[id] != "" {
		return idNames[id]
	}
	return "id " + strconv.Itoa(int(id))
}

// Known reports whether the Decoder understands messages with this id.
func (id ID) Known() bool {
	return int(id) < len(idNames) && idNames[id] != ""
}

// Message is one peer wire message. Which fields are meaningful depends on ID:
//
//	KeepAlive                   no other field
//	Choke .. NotInterested      none
//	HaveAll, HaveNone           none
//	Have, Suggest, AllowedFast  Index
//	Bitfield                    Bitfield
//	Request, Cancel, Reject     Index, Begin, Length
//	Piece                       Index, Begin, Block
//	Port                        Port
//	Extended                    ExtendedID, Payload
//
// The zero Message is a choke. Slices filled in by a Decoder are owned as described on
// Decoder.Decode.
type Message struct {
	KeepAlive bool // a zero-length message; ID is then meaningless
	ID        ID

	Index  uint32 // piece index
	Begin  uint32 // byte offset of a block within its piece
	Length uint32 // block length in bytes (request, cancel)

	Port       uint16 // DHT listen port
	ExtendedID uint8  // extension message id; 0 is the extension handshake (BEP 10)

	Bitfield []byte // raw bitfield, high bit of the first byte is piece 0
	Block    []byte // block data of a piece message
	Payload  []byte // extended payload after ExtendedID; for an unknown ID, the raw payload
}

// WireLen returns the bytes m takes on the wire: its 4-byte length prefix and what
// follows.
func (m Message) WireLen() int {
	if m.KeepAlive {
		return 4
	}
	return 4 + messageLen(m)
}

// String describes m for logs and test failures.
func (m Message) String() string {
	if m.KeepAlive {
		return "keep-alive"
	}
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return m.ID.String()
	case Have, Suggest, AllowedFast:
		return fmt.Sprintf("%v %d", m.ID, m.Index)
	case Bitfield:
		return fmt.Sprintf("bitfield %x", m.Bitfield)
	case Request, Cancel, Reject:
		return fmt.Sprintf("%v index=%d begin=%d length=%d", m.ID, m.Index, m.Begin, m.Length)
	case Piece:
		return fmt.Sprintf("piece index=%d begin=%d block=%d bytes", m.Index, m.Begin, len(m.Block))
	case Port:
		return fmt.Sprintf("port %d", m.Port)
	case Extended:
		return fmt.Sprintf("extended id=%d payload=%q", m.ExtendedID, m.Payload)
	}
	return fmt.Sprintf("%v payload=%q", m.ID, m.Payload)
}
