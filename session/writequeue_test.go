package session

import (
	"errors"
	"testing"

	"swarm/peer"
	"swarm/piece"
)

// TestWriteQueueCountsBytesUntilWritten: what the writer took stays
// counted until it reports the batch written, then the queue is back to
// zero, so a long honest connection never creeps towards the bound; past
// the bound every push fails with errNotReading.
func TestWriteQueueCountsBytesUntilWritten(t *testing.T) {
	q := writeQueue{wake: make(chan struct{}, 1)}
	have := peer.Message{ID: peer.Have, Index: 7}
	blk := piece.Block{Piece: 1, Begin: 0, Length: peer.BlockSize}
	for round := range 1000 { // 1000 honest rounds: push, take, write
		if err := q.push(have, have); err != nil {
			t.Fatalf("round %d: push: %v", round, err)
		}
		if ok, err := q.pushUpload(blk); !ok || err != nil {
			t.Fatalf("round %d: pushUpload = %v, %v", round, ok, err)
		}
		msgs, ups := q.take(nil, nil, 16)
		if q.ctrl != 2*controlCost(have) || q.upCount != 1 {
			t.Fatalf("round %d: after take: ctrl %d, uploads %d; want them still counted", round, q.ctrl, q.upCount)
		}
		ctrl := 0
		for _, m := range msgs {
			ctrl += controlCost(m)
		}
		q.sent(ctrl, ups)
	}
	if q.ctrl != 0 || q.upCount != 0 || q.upBytes != 0 {
		t.Fatalf("after 1000 written rounds: ctrl %d, uploads %d (%d bytes); want 0", q.ctrl, q.upCount, q.upBytes)
	}

	// Never written: the bound is reached, then everything fails.
	var err error
	n := 0
	for ; err == nil && n < 2*maxControlQueue; n++ {
		err = q.push(have)
	}
	if !errors.Is(err, errNotReading) {
		t.Fatalf("push after %d messages never taken: %v, want errNotReading", n, err)
	}
	if want := maxControlQueue/controlCost(have) + 1; n != want {
		t.Errorf("failed at message %d, want %d (%d bytes each, bound %d)", n, want, controlCost(have), maxControlQueue)
	}
	if ok, err := q.pushUpload(blk); ok || !errors.Is(err, errNotReading) {
		t.Errorf("pushUpload after the bound = %v, %v; want refused with errNotReading", ok, err)
	}
	if msgs, ups := q.take(nil, nil, 16); len(msgs)+len(ups) != 0 {
		t.Errorf("a closed queue still gives the writer %d messages and %d uploads", len(msgs), len(ups))
	}
}

// TestWriteQueueDropsAPeerAskingFarPastItsQueue: requests past the 500
// queued are dropped quietly, but another 8 MiB of them while nothing is
// written closes the queue.
func TestWriteQueueDropsAPeerAskingFarPastItsQueue(t *testing.T) {
	q := writeQueue{wake: make(chan struct{}, 1)}
	blk := piece.Block{Piece: 1, Begin: 0, Length: peer.BlockSize}
	for i := range maxQueuedUploads {
		if ok, err := q.pushUpload(blk); !ok || err != nil {
			t.Fatalf("request %d: pushUpload = %v, %v", i, ok, err)
		}
	}
	for i := range maxRefused / peer.BlockSize {
		if ok, err := q.pushUpload(blk); ok || err != nil {
			t.Fatalf("request %d past the queue: pushUpload = %v, %v; want dropped quietly", i, ok, err)
		}
	}
	// The writer sends one batch: the count of refused requests starts over.
	_, ups := q.take(nil, nil, 16)
	q.sent(0, ups)
	for i := range len(ups) {
		if ok, err := q.pushUpload(blk); !ok || err != nil {
			t.Fatalf("request %d after a batch: pushUpload = %v, %v", i, ok, err)
		}
	}
	for i := range maxRefused / peer.BlockSize {
		if ok, err := q.pushUpload(blk); ok || err != nil {
			t.Fatalf("request %d past the queue after a batch: pushUpload = %v, %v", i, ok, err)
		}
	}
	if ok, err := q.pushUpload(blk); ok || !errors.Is(err, errNotReading) {
		t.Fatalf("one more: pushUpload = %v, %v; want errNotReading", ok, err)
	}
}
