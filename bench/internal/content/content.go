package content

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"swarm/internal/randfile"
	"swarm/metainfo"
)

// Config says what to prepare.
type Config struct {
	Dir   string // folder to write into, the benchmark's own (it removes it)
	Swarm string // swarm binary to use; "" builds swarm/cmd/swarm into Dir
	Size  int64  // bytes of content
	Seed  uint64 // randfile seed of the content
}

// Content is what Prepare made. Its paths are absolute when Config.Dir is.
type Content struct {
	Swarm   string // the swarm binary, absolute
	SeedDir string // folder that holds File alone, for a seeder's --data
	File    string // the content, SeedDir/content.bin
	Torrent string // .torrent of File: 256 KiB pieces, no tracker, no date
	Info    *metainfo.MetaInfo
}

// Prepare builds or finds the swarm binary, writes the content and makes
// its torrent with `swarm create`, so the torrent is the one swarm makes.
// ctx bounds the go build and swarm create it runs.
func Prepare(ctx context.Context, cfg Config) (*Content, error) {
	c := &Content{Swarm: cfg.Swarm}
	if c.Swarm == "" {
		c.Swarm = filepath.Join(cfg.Dir, "swarm")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", c.Swarm, "swarm/cmd/swarm").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build swarm: %v\n%s", err, out)
		}
	} else {
		var err error
		if c.Swarm, err = filepath.Abs(c.Swarm); err != nil {
			return nil, err
		}
	}
	c.SeedDir = filepath.Join(cfg.Dir, "seed")
	if err := os.Mkdir(c.SeedDir, 0o755); err != nil {
		return nil, err
	}
	c.File = filepath.Join(c.SeedDir, "content.bin")
	if err := randfile.WriteFile(c.File, cfg.Size, cfg.Seed); err != nil {
		return nil, err
	}
	c.Torrent = filepath.Join(cfg.Dir, "content.torrent")
	if out, err := exec.CommandContext(ctx, c.Swarm, "create", c.File, "-o", c.Torrent, "--piece-length", "256KiB", "--no-date").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("swarm create: %v\n%s", err, out)
	}
	var err error
	if c.Info, err = metainfo.Load(c.Torrent); err != nil {
		return nil, err
	}
	return c, nil
}
