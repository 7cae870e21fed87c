package server

import (
	"net/netip"
	"slices"
	"strconv"

	"swarm/metainfo"
)

// The replies are written by hand rather than through a bencode encoder: the
// keys are fixed and sorted here, and an announce reply is built with no
// allocation in one pooled buffer.

func appendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	return append(dst, b...)
}

func appendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

// appendFailure appends a bencoded failure reply.
func appendFailure(dst []byte, reason string) []byte {
	dst = append(dst, "d14:failure reason"...)
	dst = appendString(dst, reason)
	return append(dst, 'e')
}

// appendAnnounce appends a bencoded announce reply: compact peers (BEP 23)
// with IPv6 peers in peers6 (BEP 7), or the dictionary model of BEP 3.
func appendAnnounce(dst []byte, rp *reply, interval, minInterval int64, compact, noPeerID bool) []byte {
	// Keys in sorted order, as bencode requires.
	dst = append(dst, "d8:complete"...)
	dst = appendInt(dst, int64(rp.complete))
	dst = append(dst, "10:incomplete"...)
	dst = appendInt(dst, int64(rp.incomplete))
	dst = append(dst, "8:interval"...)
	dst = appendInt(dst, interval)
	dst = append(dst, "12:min interval"...)
	dst = appendInt(dst, minInterval)
	dst = append(dst, "5:peers"...)
	if compact {
		dst = appendBytes(dst, rp.v4)
		if len(rp.v6) > 0 {
			dst = append(dst, "6:peers6"...)
			dst = appendBytes(dst, rp.v6)
		}
		return append(dst, 'e')
	}
	dst = append(dst, 'l')
	dst = appendDictPeers(dst, rp.v4, rp.ids4, 6, noPeerID)
	dst = appendDictPeers(dst, rp.v6, rp.ids6, 18, noPeerID)
	return append(dst, "ee"...)
}

// appendDictPeers appends one dictionary per compact peer in addrs.
func appendDictPeers(dst, addrs, ids []byte, size int, noPeerID bool) []byte {
	var ipBuf [64]byte
	for i := 0; i*size < len(addrs); i++ {
		a := addrs[i*size : (i+1)*size]
		var ip netip.Addr
		if size == 6 {
			ip = netip.AddrFrom4([4]byte(a[:4]))
		} else {
			ip = netip.AddrFrom16([16]byte(a[:16]))
		}
		port := int64(a[size-2])<<8 | int64(a[size-1])
		dst = append(dst, "d2:ip"...)
		dst = appendBytes(dst, ip.AppendTo(ipBuf[:0]))
		if !noPeerID {
			dst = append(dst, "7:peer id"...)
			dst = appendBytes(dst, ids[i*20:(i+1)*20])
		}
		dst = append(dst, "4:port"...)
		dst = appendInt(dst, port)
		dst = append(dst, 'e')
	}
	return dst
}

type scrapeFile struct {
	hash metainfo.Hash
	scrapeCounts
}

// appendScrape appends a bencoded scrape reply (BEP 48). It sorts files.
func appendScrape(dst []byte, files []scrapeFile) []byte {
	slices.SortFunc(files, func(a, b scrapeFile) int { return slices.Compare(a.hash[:], b.hash[:]) })
	dst = append(dst, "d5:filesd"...)
	for _, f := range files {
		dst = appendBytes(dst, f.hash[:])
		dst = append(dst, "d8:complete"...)
		dst = appendInt(dst, f.complete)
		dst = append(dst, "10:downloaded"...)
		dst = appendInt(dst, f.downloaded)
		dst = append(dst, "10:incomplete"...)
		dst = appendInt(dst, f.incomplete)
		dst = append(dst, 'e')
	}
	return append(dst, "ee"...)
}
