package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"swarm/internal/randfile"
	"swarm/metainfo"
)

const demoHelp = `
Usage: swarm demo [flags]

Show swarm at work with nothing to set up: make a sample folder of random
files, build a torrent of it, and show what the torrent holds. Everything is
made in a temporary folder and removed at the end unless --keep is given.

Examples:
  swarm demo
  swarm demo --size 256MiB
  swarm demo --keep ./demo-out
`

func runDemo(ctx context.Context, e *env, args []string) error {
	var sizeFlag, keep string
	var lo logOptions
	fs := newFlagSet("demo")
	fs.StringVar(&sizeFlag, "size", "16MiB", "total size of the sample content")
	fs.StringVar(&keep, "keep", "", "make the sample in this folder and keep it")
	lo.register(fs)
	if err := parseFlags(fs, demoHelp, args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("demo takes no arguments")
	}
	size, err := parseSize(sizeFlag)
	if err != nil {
		return usagef("--size: %v", err)
	}
	if size < 1 || size > 64<<30 {
		return usagef("--size %s: want 1 byte to 64 GiB", sizeFlag)
	}
	dir := keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "swarm-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	content := filepath.Join(dir, "sample")
	fmt.Fprintf(e.stdout, "1. making %s of sample files in %s\n", formatSize(size), content)
	if err := writeSample(content, size); err != nil {
		return err
	}
	torrent := filepath.Join(dir, "sample.torrent")
	fmt.Fprintf(e.stdout, "2. swarm create %s -o %s\n", content, torrent)
	start := time.Now()
	m, err := metainfo.Build(ctx, metainfo.BuildConfig{Path: content, CreatedBy: "swarm/" + version, CreationDate: time.Now()})
	if err != nil {
		return err
	}
	data, err := m.Encode()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(torrent, data); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(e.stdout, "   hashed %s in %v (%s/s)\n", formatSize(m.Info.Length), took.Round(time.Millisecond),
		formatSize(int64(float64(m.Info.Length)/took.Seconds())))
	fmt.Fprintf(e.stdout, "3. swarm info %s\n\n", torrent)
	back, err := metainfo.Load(torrent)
	if err != nil {
		return err
	}
	writeTorrentText(e.stdout, back)
	return nil
}

// writeSample fills dir with a few files of random bytes adding up to size:
// one large file and a folder of smaller ones.
func writeSample(dir string, size int64) error {
	seed := uint64(time.Now().UnixNano())
	parts := []struct {
		name  string
		share int64 // per mille of size
	}{{"video.bin", 700}, {"extras/notes.txt", 10}, {"extras/photos/1.bin", 150}, {"extras/photos/2.bin", 140}}
	var used int64
	for i, p := range parts {
		n := size * p.share / 1000
		if i == len(parts)-1 {
			n = size - used
		}
		used += n
		path := filepath.Join(dir, p.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := randfile.WriteFile(path, n, seed+uint64(i)); err != nil {
			return err
		}
	}
	return nil
}
