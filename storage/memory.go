package storage

import (
	"fmt"
	"sync"
)

// Memory is a Storage held in RAM, for the lab and tests: many leechers in
// one process without touching the disk.
type Memory struct {
	mu   sync.RWMutex
	data []byte
}

// NewMemory returns a zeroed Memory of size bytes.
func NewMemory(size int64) *Memory { return &Memory{data: make([]byte, size)} }

func (m *Memory) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.data)) {
		return 0, fmt.Errorf("read %d bytes at %d: outside the %d bytes held", len(p), off, len(m.data))
	}
	return copy(p, m.data[off:]), nil
}

func (m *Memory) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.data)) {
		return 0, fmt.Errorf("write %d bytes at %d: outside the %d bytes held", len(p), off, len(m.data))
	}
	return copy(m.data[off:], p), nil
}

func (m *Memory) Flush() error { return nil }
func (m *Memory) Close() error { return nil }

// Bytes returns the content; the caller must not write while it reads.
func (m *Memory) Bytes() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.data
}
