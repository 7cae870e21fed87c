package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"swarm/metainfo"
)

// maxDepth bounds the components of one path, as metainfo does.
const maxDepth = 64

// diskFile is one entry of a torrent's file list as storage sees it.
type diskFile struct {
	off, length int64
	pad         bool
	exec        bool     // BEP 47 attribute x: created with mode 0755
	comps       []string // path below the download folder; nil for pad files
	rel         string   // comps joined with the OS separator
}

// layout checks a torrent's file list again (metainfo has already) and
// returns where each file lives below the download folder: dir/Name for a
// single-file torrent, dir/Name/path... for a multi-file one.
func layout(info *metainfo.Info) ([]diskFile, error) {
	if info == nil {
		return nil, errors.New("storage: nil info")
	}
	if err := checkComponent(info.Name); err != nil {
		return nil, fmt.Errorf("storage: torrent name %q: %w", info.Name, err)
	}
	if !info.MultiFile && len(info.Files) != 1 {
		return nil, fmt.Errorf("storage: single-file torrent lists %d files", len(info.Files))
	}
	files := make([]diskFile, len(info.Files))
	var off int64
	for i, f := range info.Files {
		if f.Offset != off || f.Length < 0 {
			return nil, fmt.Errorf("storage: file %d at offset %d, length %d: want offset %d", i, f.Offset, f.Length, off)
		}
		off += f.Length
		d := diskFile{off: f.Offset, length: f.Length, pad: f.Padding, exec: f.Executable}
		if !d.pad {
			d.comps = []string{info.Name}
			if info.MultiFile {
				if len(f.Path) == 0 || len(f.Path) > maxDepth {
					return nil, fmt.Errorf("storage: file %d: path of %d components: %w", i, len(f.Path), ErrUnsafePath)
				}
				for _, c := range f.Path {
					if err := checkComponent(c); err != nil {
						return nil, fmt.Errorf("storage: file %d path %q: %w", i, f.DisplayPath(), err)
					}
				}
				d.comps = append(d.comps, f.Path...)
			}
			d.rel = filepath.Join(d.comps...)
		}
		files[i] = d
	}
	if off != info.Length {
		return nil, fmt.Errorf("storage: files add up to %d bytes, torrent length is %d", off, info.Length)
	}
	return files, nil
}

// checkComponent refuses a path component that could name something outside
// the download folder or that a file system treats specially.
func checkComponent(c string) error {
	switch {
	case c == "", c == ".", c == "..":
		return fmt.Errorf("component %q: %w", c, ErrUnsafePath)
	case strings.ContainsRune(c, 0):
		return fmt.Errorf("NUL in component: %w", ErrUnsafePath)
	case strings.ContainsAny(c, `/\`) || strings.ContainsRune(c, filepath.Separator):
		return fmt.Errorf("separator in component %q: %w", c, ErrUnsafePath)
	case len(c) >= 2 && c[1] == ':' && ('a' <= c[0]|0x20 && c[0]|0x20 <= 'z'):
		return fmt.Errorf("drive letter in component %q: %w", c, ErrUnsafePath)
	case len(c) > 255:
		return fmt.Errorf("component of %d bytes: %w", len(c), ErrUnsafePath)
	case filepath.IsAbs(c) || filepath.VolumeName(c) != "":
		return fmt.Errorf("absolute component %q: %w", c, ErrUnsafePath)
	}
	return nil
}

// lstatChain walks the components of a path below root with Lstat and
// refuses a symbolic link anywhere, a non-folder where a folder belongs and
// a final element that is not a regular file. It returns the final
// element's FileInfo, or nil and an fs.ErrNotExist error from the first
// component that is missing. dir is used in messages only.
func lstatChain(root *os.Root, dir string, comps []string) (fs.FileInfo, error) {
	for j := range comps {
		rel := filepath.Join(comps[:j+1]...)
		fi, err := root.Lstat(rel)
		if err != nil {
			return nil, ioError("stat", filepath.Join(dir, rel), err)
		}
		last := j == len(comps)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("storage: %s: %w: refusing to follow it", filepath.Join(dir, rel), ErrSymlink)
		case !last && !fi.IsDir():
			return nil, fmt.Errorf("storage: %s: not a folder", filepath.Join(dir, rel))
		case last && !fi.Mode().IsRegular():
			return nil, fmt.Errorf("storage: %s: not a regular file (%v)", filepath.Join(dir, rel), fi.Mode().Type())
		case last:
			return fi, nil
		}
	}
	return nil, errors.New("storage: empty path")
}
