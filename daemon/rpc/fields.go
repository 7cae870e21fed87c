package rpc

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"swarm/daemon"
)

// torrentGet answers torrent-get: the requested fields of each torrent,
// in the "objects" format (or "table", rpc-version 16+). Unknown fields
// are left out, as Transmission does.
func torrentGet(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		Fields []string        `json:"fields"`
		IDs    json.RawMessage `json:"ids"`
		Format string          `json:"format"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	ids, recent, err := s.resolve(a.IDs)
	if err != nil {
		return nil, err
	}
	ids = s.known(ids)
	var vs []daemon.View
	var removed []int
	if ids == nil || len(ids) > 0 {
		if vs, removed, err = s.cfg.Backend.Torrents(ids, recent); err != nil {
			return nil, err
		}
	}
	fields := make([]string, 0, len(a.Fields))
	for _, f := range a.Fields {
		if _, ok := torrentFields[f]; ok {
			fields = append(fields, f)
		}
	}
	out := map[string]any{}
	if a.Format == "table" {
		rows := make([]any, 0, len(vs)+1)
		rows = append(rows, fields)
		for i := range vs {
			row := make([]any, len(fields))
			for j, f := range fields {
				row[j] = torrentFields[f](&vs[i])
			}
			rows = append(rows, row)
		}
		out["torrents"] = rows
	} else {
		ts := make([]map[string]any, len(vs))
		for i := range vs {
			t := make(map[string]any, len(fields))
			for _, f := range fields {
				t[f] = torrentFields[f](&vs[i])
			}
			ts[i] = t
		}
		out["torrents"] = ts
	}
	if recent {
		if removed == nil {
			removed = []int{}
		}
		out["removed"] = removed
	}
	return out, nil
}

// Ratio values of the protocol.
const (
	ratioNA  = -1 // nothing transferred
	ratioInf = -2
	etaNA    = -1 // not downloading
	etaUnk   = -2 // downloading, rate unknown
)

// torrentFields maps each torrent-get field we answer to its value.
var torrentFields = map[string]func(v *daemon.View) any{
	"id":         func(v *daemon.View) any { return v.ID },
	"name":       func(v *daemon.View) any { return v.Name },
	"hashString": func(v *daemon.View) any { return v.Hash },
	"status":     func(v *daemon.View) any { return int(v.Status) },
	"error": func(v *daemon.View) any {
		switch {
		case v.Error != "":
			return 3 // local error
		case v.TrackerError != "":
			return 2 // tracker error
		}
		return 0
	},
	"errorString": func(v *daemon.View) any {
		if v.Error != "" {
			return v.Error
		}
		return v.TrackerError
	},
	"percentDone":     func(v *daemon.View) any { return v.PercentDone() },
	"percentComplete": func(v *daemon.View) any { return percentComplete(v) },
	"metadataPercentComplete": func(v *daemon.View) any {
		if v.MetadataDone {
			return 1
		}
		return 0
	},
	"recheckProgress":  func(v *daemon.View) any { return v.RecheckProgress },
	"sizeWhenDone":     func(v *daemon.View) any { return v.SizeWhenDone },
	"totalSize":        func(v *daemon.View) any { return v.TotalSize },
	"leftUntilDone":    func(v *daemon.View) any { return v.Left },
	"haveValid":        func(v *daemon.View) any { return v.SizeWhenDone - v.Left },
	"haveUnchecked":    func(v *daemon.View) any { return 0 },
	"desiredAvailable": func(v *daemon.View) any { return desired(v) },
	"rateDownload":     func(v *daemon.View) any { return int64(v.DownRate) },
	"rateUpload":       func(v *daemon.View) any { return int64(v.UpRate) },
	"uploadRatio":      func(v *daemon.View) any { return ratio(v) },
	"uploadedEver":     func(v *daemon.View) any { return v.Uploaded },
	"downloadedEver":   func(v *daemon.View) any { return v.Downloaded },
	"corruptEver":      func(v *daemon.View) any { return v.Corrupt },
	"eta":              func(v *daemon.View) any { return eta(v) },
	"etaIdle":          func(v *daemon.View) any { return etaNA },
	"peersConnected":   func(v *daemon.View) any { return v.Peers },
	"peersSendingToUs": func(v *daemon.View) any { return v.SendingToUs },
	"peersGettingFromUs": func(v *daemon.View) any {
		return v.GettingFromUs
	},
	"peersFrom": func(v *daemon.View) any {
		return map[string]int{"fromCache": 0, "fromDht": 0, "fromIncoming": 0, "fromLpd": 0, "fromLtep": 0, "fromPex": 0, "fromTracker": v.Peers}
	},
	"webseeds":            func(v *daemon.View) any { return []string{} },
	"webseedsSendingToUs": func(v *daemon.View) any { return 0 },
	"addedDate":           func(v *daemon.View) any { return v.Added },
	"doneDate":            func(v *daemon.View) any { return v.Done },
	"activityDate":        func(v *daemon.View) any { return v.Activity },
	"startDate":           func(v *daemon.View) any { return v.Started },
	"dateCreated":         func(v *daemon.View) any { return v.Created },
	"secondsDownloading":  func(v *daemon.View) any { return v.SecondsDownloading },
	"secondsSeeding":      func(v *daemon.View) any { return v.SecondsSeeding },
	"manualAnnounceTime":  func(v *daemon.View) any { return -1 },
	"downloadDir":         func(v *daemon.View) any { return v.Dir },
	"comment":             func(v *daemon.View) any { return v.Comment },
	"creator":             func(v *daemon.View) any { return v.Creator },
	"isPrivate":           func(v *daemon.View) any { return v.Private },
	"isFinished":          func(v *daemon.View) any { return v.Finished },
	"isStalled":           func(v *daemon.View) any { return false },
	"magnetLink":          func(v *daemon.View) any { return v.Magnet },
	"queuePosition":       func(v *daemon.View) any { return v.QueuePos },
	"seedRatioLimit":      func(v *daemon.View) any { return v.SeedRatio },
	"seedRatioMode":       func(v *daemon.View) any { return v.SeedRatioMode },
	"seedIdleLimit":       func(v *daemon.View) any { return v.SeedIdle },
	"seedIdleMode":        func(v *daemon.View) any { return v.SeedIdleMode },
	"downloadLimit":       func(v *daemon.View) any { return v.DownLimit / kilo },
	"downloadLimited":     func(v *daemon.View) any { return v.DownLimited },
	"uploadLimit":         func(v *daemon.View) any { return v.UpLimit / kilo },
	"uploadLimited":       func(v *daemon.View) any { return v.UpLimited },
	"honorsSessionLimits": func(v *daemon.View) any { return true },
	"bandwidthPriority":   func(v *daemon.View) any { return 0 },
	"peer-limit":          func(v *daemon.View) any { return 50 },
	"labels": func(v *daemon.View) any {
		if v.Labels == nil {
			return []string{}
		}
		return v.Labels
	},
	"pieceCount": func(v *daemon.View) any { return v.PieceCount },
	"pieceSize":  func(v *daemon.View) any { return v.PieceSize },
	"pieces":     func(v *daemon.View) any { return base64.StdEncoding.EncodeToString(v.Bits) },
	"file-count": func(v *daemon.View) any { return v.FileCount() },
	"files": func(v *daemon.View) any {
		fs := v.Files()
		out := make([]map[string]any, len(fs))
		for i, f := range fs {
			out[i] = map[string]any{"name": f.Name, "length": f.Length, "bytesCompleted": f.Completed}
		}
		return out
	},
	"fileStats": func(v *daemon.View) any {
		fs := v.Files()
		out := make([]map[string]any, len(fs))
		for i, f := range fs {
			out[i] = map[string]any{"bytesCompleted": f.Completed, "wanted": f.Wanted, "priority": f.Priority}
		}
		return out
	},
	"wanted": func(v *daemon.View) any {
		fs := v.Files()
		out := make([]int, len(fs))
		for i, f := range fs {
			if f.Wanted {
				out[i] = 1
			}
		}
		return out
	},
	"priorities": func(v *daemon.View) any {
		fs := v.Files()
		out := make([]int, len(fs))
		for i, f := range fs {
			out[i] = f.Priority
		}
		return out
	},
	"peers": func(v *daemon.View) any {
		out := make([]map[string]any, len(v.PeerList))
		for i, p := range v.PeerList {
			out[i] = map[string]any{
				"address": p.Addr.Addr().Unmap().String(), "port": p.Addr.Port(),
				"clientName": p.Client, "flagStr": flagStr(p.Incoming, p.AmChoking, p.Choking, p.Interested, p.PeerWants, p.DownRate, p.UpRate),
				"rateToClient": int64(p.DownRate), "rateToPeer": int64(p.UpRate), "progress": p.Progress,
				"isEncrypted": false, "isIncoming": p.Incoming, "isUTP": false,
				"clientIsChoked": p.Choking, "clientIsInterested": p.Interested,
				"peerIsChoked": p.AmChoking, "peerIsInterested": p.PeerWants,
				"isDownloadingFrom": p.DownRate > 0, "isUploadingTo": p.UpRate > 0,
			}
		}
		return out
	},
	"trackers": func(v *daemon.View) any {
		out := []map[string]any{}
		for tier, urls := range v.TrackerTiers {
			for _, u := range urls {
				out = append(out, map[string]any{"announce": u, "id": len(out), "scrape": scrapeURL(u), "tier": tier})
			}
		}
		return out
	},
	"trackerStats": func(v *daemon.View) any { return trackerStats(v) },
}

// percentComplete is the share of all the content verified.
func percentComplete(v *daemon.View) float64 {
	if v.TotalSize <= 0 {
		return 0
	}
	return min(1, float64(v.SizeWhenDone-v.Left)/float64(v.TotalSize))
}

// desired is the bytes still wanted that connected peers have: all of
// them when a seed is connected, none known otherwise.
func desired(v *daemon.View) int64 {
	if v.Seeds > 0 {
		return v.Left
	}
	return 0
}

// ratio is Transmission's uploadRatio: uploaded over downloaded (or over
// the verified bytes, for a torrent that was complete when added).
func ratio(v *daemon.View) float64 {
	down := v.Downloaded
	if down == 0 {
		down = v.SizeWhenDone - v.Left
	}
	switch {
	case down > 0:
		return float64(v.Uploaded) / float64(down)
	case v.Uploaded > 0:
		return ratioInf
	}
	return ratioNA
}

func eta(v *daemon.View) int64 {
	if v.Status != daemon.StatusDownload || v.Left == 0 {
		return etaNA
	}
	if v.DownRate < 1 {
		return etaUnk
	}
	return int64(float64(v.Left) / v.DownRate)
}

// flagStr is Transmission's peer flags: D downloading from it, d we would
// but it chokes us, U uploading to it, u it would but we choke it, I it
// connected to us, O an optimistic or other unchoke is not shown.
func flagStr(incoming, amChoking, choking, interested, peerWants bool, down, up float64) string {
	var b strings.Builder
	switch {
	case down > 0:
		b.WriteByte('D')
	case interested && choking:
		b.WriteByte('d')
	}
	switch {
	case up > 0:
		b.WriteByte('U')
	case peerWants && amChoking:
		b.WriteByte('u')
	}
	if !choking && !interested {
		b.WriteByte('K')
	}
	if !amChoking && !peerWants {
		b.WriteByte('?')
	}
	if incoming {
		b.WriteByte('I')
	}
	return b.String()
}

// scrapeURL derives a tracker's scrape URL by the BEP 48 convention; ""
// when it has none.
func scrapeURL(announce string) string {
	u, err := url.Parse(announce)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	i := strings.LastIndex(u.Path, "/")
	if i < 0 || !strings.HasPrefix(u.Path[i+1:], "announce") {
		return ""
	}
	u.Path = u.Path[:i+1] + "scrape" + u.Path[i+1+len("announce"):]
	return u.String()
}

// trackerStats reports the last announce round against each tracker: the
// session keeps one result for the round, not one per tracker.
func trackerStats(v *daemon.View) []map[string]any {
	out := []map[string]any{}
	for tier, urls := range v.TrackerTiers {
		for _, u := range urls {
			st := map[string]any{
				"announce": u, "id": len(out), "tier": tier, "scrape": scrapeURL(u), "isBackup": false,
				"host":                  host(u),
				"announceState":         0,
				"hasAnnounced":          false,
				"lastAnnounceResult":    "",
				"lastAnnounceSucceeded": false,
				"lastAnnounceTime":      0,
				"lastAnnounceTimedOut":  false,
				"lastAnnouncePeerCount": 0,
				"lastAnnounceStartTime": 0,
				"nextAnnounceTime":      0,
				"seederCount":           -1,
				"leecherCount":          -1,
				"downloadCount":         -1,
				"hasScraped":            false,
				"lastScrapeResult":      "",
				"lastScrapeSucceeded":   false,
				"lastScrapeTime":        0,
				"lastScrapeTimedOut":    false,
				"lastScrapeStartTime":   0,
				"nextScrapeTime":        0,
				"scrapeState":           0,
			}
			if a := v.Announce; a != nil {
				st["hasAnnounced"] = true
				st["announceState"] = 1 // waiting for the next
				st["lastAnnounceTime"] = a.At.Unix()
				st["lastAnnounceStartTime"] = a.At.Unix()
				st["lastAnnounceSucceeded"] = a.Err == ""
				st["lastAnnounceResult"] = "Success"
				if a.Err != "" {
					st["lastAnnounceResult"] = a.Err
				}
				st["lastAnnouncePeerCount"] = a.Peers
				st["seederCount"], st["leecherCount"] = a.Seeders, a.Leechers
				if !a.Next.IsZero() {
					st["nextAnnounceTime"] = a.Next.Unix()
				}
				st["lastAnnounceTimedOut"] = strings.Contains(a.Err, "not answering") && time.Since(a.At) < time.Hour
			}
			out = append(out, st)
		}
	}
	return out
}

func host(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
