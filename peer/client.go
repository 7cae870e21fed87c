package peer

import (
	"fmt"
	"strconv"
	"strings"
)

// azureusClients names the two-letter codes of Azureus-style peer ids
// (BEP 20: "-XXnnnn-"), for the clients one meets most.
var azureusClients = map[string]string{
	"AZ": "Vuze", "BC": "BitComet", "BI": "BiglyBT", "BT": "BitTorrent", "DE": "Deluge",
	"FD": "Free Download Manager", "FW": "FrostWire", "GT": "anacrolix/torrent", "KT": "KTorrent",
	"LT": "libtorrent", "lt": "libtorrent (rakshasa)", "PI": "PicoTorrent", "qB": "qBittorrent",
	"SD": "Thunder", "SW": "swarm", "TL": "Tribler", "TR": "Transmission", "UM": "µTorrent Mac",
	"UT": "µTorrent", "WW": "WebTorrent", "XL": "Xunlei",
}

// mainlineClients are the prefixes of Mainline-style peer ids (BEP 20:
// "M4-3-6--"), aria2's among them ("A2-1-36-0-").
var mainlineClients = []struct{ prefix, name string }{{"A2-", "aria2"}, {"M", "BitTorrent"}}

// shadowClients names the one-letter codes of Shadow-style peer ids
// (BEP 20: a letter, up to five version characters, then dashes).
var shadowClients = map[byte]string{
	'A': "ABC", 'O': "Osprey Permaseed", 'Q': "BTQueue", 'R': "Tribler", 'S': "Shadow",
	'T': "BitTornado", 'U': "UPnP NAT BitTorrent",
}

// ClientName names the client a peer id comes from, with its version, for
// logs: "libtorrent 2.0.8" for -LT2080-, "aria2 1.36.0" for A2-1-36-0-,
// "BitTornado 0.3.18" for T03I-----. An Azureus-style code not in the table
// comes out as its letters and version ("ZZ 1.2.3"); an id of no known style
// as its printable prefix, or in hex if it has none.
func ClientName(id [20]byte) string {
	if id[0] == '-' && id[7] == '-' && isAlnum(id[1]) && isAlnum(id[2]) {
		code := string(id[1:3])
		name, ok := azureusClients[code]
		if !ok {
			name = code
		}
		return name + " " + version(id[3:7])
	}
	for _, c := range mainlineClients {
		if v, ok := mainlineVersion(id[:], c.prefix); ok {
			return c.name + " " + v
		}
	}
	if name, ok := shadowClients[id[0]]; ok && string(id[6:9]) == "---" {
		if v := strings.TrimRight(string(id[1:6]), "-"); v != "" && strings.Trim(v, shadowDigits) == "" {
			return name + " " + version([]byte(v))
		}
	}
	n := 0
	for n < len(id) && id[n] >= 0x21 && id[n] <= 0x7e {
		n++
	}
	if n >= 4 {
		return string(id[:min(n, 8)])
	}
	return fmt.Sprintf("%x", id[:4])
}

// shadowDigits are the version characters of BEP 20: 0-9, A-Z (10-35), a-z
// (36-61), '.' and '-' (62, 63).
const shadowDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"

// version reads each character as one version number (BEP 20 digits) and
// joins them with dots, leaving out trailing zeros past the third ("2080" is
// 2.0.8, "4520" 4.5.2, "0D80" 0.13.8).
func version(digits []byte) string {
	var parts []string
	for _, c := range digits {
		n := strings.IndexByte(shadowDigits, c)
		if n < 0 {
			n = 0
		}
		parts = append(parts, strconv.Itoa(n))
	}
	for len(parts) > 3 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, ".")
}

// mainlineVersion reads a Mainline-style id (BEP 20: "M4-3-6--", and
// aria2's "A2-1-36-0-"): prefix, then up to three numbers each ended by '-'.
// It wants at least two.
func mainlineVersion(id []byte, prefix string) (string, bool) {
	if !strings.HasPrefix(string(id), prefix) {
		return "", false
	}
	rest := string(id[len(prefix):])
	var nums []string
	for len(nums) < 3 {
		i := strings.IndexByte(rest, '-')
		if i <= 0 || i > 3 || strings.Trim(rest[:i], "0123456789") != "" {
			break
		}
		nums, rest = append(nums, rest[:i]), rest[i+1:]
	}
	return strings.Join(nums, "."), len(nums) >= 2
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
