package session

import (
	"slices"
	"testing"
)

func TestPieceWritesHashesOnlyWhenCompleteAndWritten(t *testing.T) {
	type step struct {
		op       string // "queue", "queue-last", "ok", "fail", "lose"
		pc       int
		wantHash bool
	}
	tests := []struct {
		name     string
		steps    []step
		wantLost []int
		wantIdle bool // no write in flight, nothing waiting
	}{
		{"hashed after the last write", []step{
			{"queue", 0, false}, {"queue-last", 0, false}, {"ok", 0, false}, {"ok", 0, true},
		}, nil, true},
		{"writes ending before the last block arrives", []step{
			{"queue", 0, false}, {"ok", 0, false}, {"queue-last", 0, false}, {"ok", 0, true},
		}, nil, true},
		{"a failed write loses the piece: never hashed", []step{
			{"queue", 0, false}, {"queue-last", 0, false}, {"fail", 0, false}, {"ok", 0, false},
		}, []int{0}, true},
		{"pieces apart", []step{
			{"queue-last", 1, false}, {"queue-last", 2, false}, {"fail", 1, false}, {"ok", 2, true},
		}, []int{1}, true},
		{"read back failed", []step{
			{"queue-last", 3, false}, {"ok", 3, true}, {"lose", 3, false},
		}, []int{3}, true},
		{"incomplete piece waits", []step{
			{"queue", 0, false}, {"ok", 0, false},
		}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newPieceWrites()
			for i, s := range tt.steps {
				hash := false
				switch s.op {
				case "queue", "queue-last":
					w.queued(s.pc, s.op == "queue-last")
				case "ok", "fail":
					hash = w.written(s.pc, s.op == "fail")
				case "lose":
					w.lose(s.pc)
				}
				if hash != s.wantHash {
					t.Fatalf("step %d %s %d: hash %v, want %v", i, s.op, s.pc, hash, s.wantHash)
				}
			}
			lost := w.retry()
			slices.Sort(lost)
			if !slices.Equal(lost, tt.wantLost) {
				t.Errorf("lost %v, want %v", lost, tt.wantLost)
			}
			if tt.wantIdle && (len(w.writing) != 0 || len(w.ready) != 0 || len(w.lost) != 0) {
				t.Errorf("left writing %v ready %v lost %v", w.writing, w.ready, w.lost)
			}
		})
	}
}
