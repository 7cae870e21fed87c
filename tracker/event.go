package tracker

import "fmt"

// Event is the event parameter of an announce (BEP 3).
type Event uint8

// The announce events. EventNone is the regular announce sent every interval.
const (
	EventNone      Event = iota
	EventStarted         // the first announce of a download
	EventCompleted       // the download finished (the tracker counts a snatch)
	EventStopped         // the client is leaving the swarm
)

// String returns the event as it is spelled in the query ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventNone:
		return ""
	case EventStarted:
		return "started"
	case EventCompleted:
		return "completed"
	case EventStopped:
		return "stopped"
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// MarshalText returns the same text as String, so that loggers and
// encoding/json print the name rather than a number.
func (e Event) MarshalText() ([]byte, error) {
	if e > EventStopped {
		return nil, fmt.Errorf("unknown event %d", uint8(e))
	}
	return []byte(e.String()), nil
}

// ParseEvent reads an event parameter. The empty string is EventNone, and so is
// "paused" (BEP 21), which a tracker treats as a regular announce.
func ParseEvent(s string) (Event, error) {
	switch s {
	case "", "paused":
		return EventNone, nil
	case "started":
		return EventStarted, nil
	case "completed":
		return EventCompleted, nil
	case "stopped":
		return EventStopped, nil
	}
	return EventNone, fmt.Errorf("unknown event %q", s)
}
