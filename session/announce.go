package session

import (
	"context"
	"errors"
	"net"
	"time"

	"swarm/tracker"
)

// announceEvent is a lifecycle change the loop tells the announcer about.
type announceEvent int

const announceCompleted announceEvent = 1

// A downloading torrent with fewer than fewPeers connections re-announces
// every shortOfPeersRetry (within the tracker's min interval) instead of
// waiting out the whole interval.
const (
	fewPeers          = 5
	shortOfPeersRetry = 30 * time.Second
)

// stoppedTimeout bounds the last announce (event stopped) at shutdown.
const stoppedTimeout = 5 * time.Second

// trackers returns the tiers to announce to.
func (t *Torrent) trackers() [][]string {
	if t.cfg.Trackers != nil {
		return t.cfg.Trackers
	}
	return t.m.Tiers()
}

// announceLoop announces to the trackers on their schedule (started first,
// completed when the loop says so, stopped at shutdown) and hands the peers
// they return to the loop.
func (t *Torrent) announceLoop(ctx context.Context, tiers [][]string) {
	a, err := tracker.NewAnnouncer(tracker.AnnouncerConfig{
		Tiers:     tiers,
		Transport: &tracker.Client{UserAgent: "swarm/0.1"},
		Logger:    &t.log,
		// A client that cannot reach its tracker retries sooner than
		// the package default; the backoff still doubles to 30 min.
		MinBackoff: 15 * time.Second,
	})
	if err != nil {
		t.log.Warn().Err(err).Msg("no usable tracker")
		return
	}
	event := tracker.EventStarted
	pendingCompleted := false
	for {
		resp, err := a.Announce(ctx, t.announceRequest(event))
		switch {
		case err == nil:
			t.log.Debug().Stringer("event", event).Int("peers", len(resp.Peers)).Dur("interval", resp.Interval).Msg("announced")
			if resp.WarningMessage != "" {
				t.log.Warn().Str("warning", resp.WarningMessage).Msg("tracker warning")
			}
			t.AddPeers(ctx, resp.Peers)
			event = tracker.EventNone
			if pendingCompleted {
				event, pendingCompleted = tracker.EventCompleted, false
				continue
			}
		case ctx.Err() != nil:
		case errors.Is(err, tracker.ErrTooSoon):
		default:
			t.log.Warn().Err(err).Msg("tracker unreachable; trading with the peers we have")
		}
		wait := time.Until(a.NextAnnounce())
		if st := t.Stats(); !st.Complete && st.Peers < fewPeers {
			// Short of peers: ask again soon. The announcer refuses
			// (ErrTooSoon) until the tracker's min interval has passed.
			wait = min(wait, shortOfPeersRetry)
		}
		timer := time.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			timer.Stop()
			t.announceStopped(a)
			return
		case ev := <-t.announce:
			timer.Stop()
			if ev == announceCompleted {
				if event == tracker.EventStarted {
					pendingCompleted = true // after started has gone through
				} else {
					event = tracker.EventCompleted
				}
			}
		case <-timer.C:
		}
	}
}

// announceStopped tells the trackers we are leaving, within a short time.
func (t *Torrent) announceStopped(a *tracker.Announcer) {
	ctx, cancel := context.WithTimeout(context.Background(), stoppedTimeout)
	defer cancel()
	if _, err := a.Announce(ctx, t.announceRequest(tracker.EventStopped)); err != nil {
		t.log.Debug().Err(err).Msg("announce stopped")
	}
}

func (t *Torrent) announceRequest(ev tracker.Event) tracker.AnnounceRequest {
	st := t.Stats()
	port := 0
	if a, ok := t.sess.listener.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	return tracker.AnnounceRequest{
		InfoHash:   t.infoHash,
		PeerID:     t.sess.peerID,
		Port:       uint16(port),
		Uploaded:   st.Uploaded,
		Downloaded: st.Downloaded,
		Left:       st.Left,
		Event:      ev,
		NumWant:    50,
		Key:        t.sess.key,
		Compact:    true,
	}
}
