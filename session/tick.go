package session

import (
	"context"
	"time"

	"swarm/peer"
)

// The torrent's once-a-second work.

// tick runs once a second: rates, pipelines, snubbing, dialing, resume.
func (t *Torrent) tick(ctx context.Context, now time.Time) {
	if t.meta != nil {
		for _, p := range t.meta.Expired(now) {
			t.disconnect(p, errMetadataTimeout)
		}
		t.requestMetadata(now)
	}
	if t.picker != nil {
		t.tickContent(now)
	}
	t.pexTick(now)
	t.connectMore(ctx)
	t.publishStats()
}

// tickContent is the once-a-second work of a torrent with its storage.
func (t *Torrent) tickContent(now time.Time) {
	for p := range t.peers {
		d := p.downloaded.Swap(0)
		p.rate.add(d)
		u := p.uploaded.Load()
		p.upRate.add(u - p.lastUp)
		if d > 0 || u > p.lastUp {
			p.lastPayload = now
		}
		p.lastUp = u
		if p.slowStart {
			// Slow start ends when a second brings less than 10% more
			// than the one before: the peer's rate is found.
			if last := float64(p.rate.last()); last > 0 {
				if last < p.lastSecond*1.1 {
					p.slowStart = false
				}
				p.lastSecond = last
			}
		}
		if !p.slowStart {
			// Keep pipelineSeconds of the peer's rate in flight.
			p.pipeline = min(maxPipeline, max(minPipeline, int(p.rate.recent(recentWindow)*pipelineSeconds/peer.BlockSize)))
		}
		if p.reqq > 0 {
			p.pipeline = min(p.pipeline, p.reqq)
		}
		if t.picker.Outstanding(p) > 0 && now.Sub(p.lastBlock) > snubTimeout {
			p.log.Debug().Msg("snubbed: no block for 60 s; its requests go elsewhere")
			p.snubbed = true
			p.lastBlock = now
			t.releaseToOthers(p)
		}
		if p.peerChoking && t.picker.Outstanding(p) > 0 && now.Sub(p.chokedAt) > chokeGrace && now.Sub(p.lastBlock) > chokeGrace {
			// A fast peer that choked us and neither sent nor rejected
			// what we asked for since (BEP 6 has it reject): ask others.
			p.log.Debug().Int("requests", t.picker.Outstanding(p)).Msg("choked us without rejecting our requests; they go elsewhere")
			t.releaseToOthers(p)
		}
		t.fillRequests(p)
	}
	t.superTick(now)
	if now.Sub(t.lastRechoke) >= t.sess.cfg.RechokeInterval {
		t.rechoke(now)
	} else {
		t.reclaimFreeSlots(now)
	}
	t.retryDisk(now)
	t.tickWebSeeds(now)
	if t.resumeDirty && now.Sub(t.lastResume) >= resumeInterval {
		t.saveResume(false)
	}
}
