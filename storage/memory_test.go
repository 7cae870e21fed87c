package storage_test

import (
	"bytes"
	"testing"

	"swarm/storage"
)

func TestMemoryRoundTripsAndRefusesOutOfRange(t *testing.T) {
	m := storage.NewMemory(100)
	if _, err := m.WriteAt([]byte("hello"), 95); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := m.ReadAt(got, 95); err != nil || string(got) != "hello" {
		t.Fatalf("ReadAt = %q, %v", got, err)
	}
	if _, err := m.WriteAt([]byte("hello"), 96); err == nil {
		t.Error("write past the end accepted")
	}
	if _, err := m.ReadAt(got, -1); err == nil {
		t.Error("read at -1 accepted")
	}
	if !bytes.Equal(m.Bytes()[95:], []byte("hello")) {
		t.Error("Bytes does not show the write")
	}
}
