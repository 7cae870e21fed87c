package tracker_test

import (
	"testing"

	"swarm/tracker"
)

func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		event tracker.Event
		text  string
	}{
		{"none", tracker.EventNone, ""},
		{"started", tracker.EventStarted, "started"},
		{"completed", tracker.EventCompleted, "completed"},
		{"stopped", tracker.EventStopped, "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.event.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
			got, err := tracker.ParseEvent(tt.text)
			if err != nil || got != tt.event {
				t.Errorf("ParseEvent(%q) = %v, %v, want %v", tt.text, got, err, tt.event)
			}
			b, err := tt.event.MarshalText()
			if err != nil || string(b) != tt.text {
				t.Errorf("MarshalText() = %q, %v, want %q", b, err, tt.text)
			}
		})
	}
}

func TestParseEventRejectsUnknown(t *testing.T) {
	for _, s := range []string{"start", "STARTED", "stopped ", "\x00"} {
		if _, err := tracker.ParseEvent(s); err == nil {
			t.Errorf("ParseEvent(%q) = nil error, want one", s)
		}
	}
	if got, err := tracker.ParseEvent("paused"); err != nil || got != tracker.EventNone {
		t.Errorf("ParseEvent(paused) = %v, %v, want EventNone (BEP 21)", got, err)
	}
	if _, err := tracker.Event(9).MarshalText(); err == nil {
		t.Error("Event(9).MarshalText() = nil error, want one")
	}
}
