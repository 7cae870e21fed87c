// Command create measures `swarm create` against `mktorrent -t 2` on the same
// file in the same run: wall time, CPU time and their ratios, one JSON line
// per run and a summary line.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"swarm/internal/randfile"
)

type result struct {
	Tool    string  `json:"tool"`
	Run     int     `json:"run"`
	Bytes   int64   `json:"bytes"`
	WallS   float64 `json:"wall_s"`
	CPUS    float64 `json:"cpu_s"`
	MBPerS  float64 `json:"mb_per_s"`
	Threads int     `json:"threads"`
}

func main() {
	size := flag.Int64("size", 1<<30, "file size in bytes")
	runs := flag.Int("runs", 3, "runs per tool (the median is compared)")
	dir := flag.String("dir", "/dev/shm", "where to put the test file (RAM keeps the disk out of it)")
	flag.Parse()
	if err := run(*size, *runs, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench/create:", err)
		os.Exit(1)
	}
}

func run(size int64, runs int, dir string) error {
	work, err := os.MkdirTemp(dir, "swarm-bench-create-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	swarm := filepath.Join(work, "swarm")
	if out, err := exec.Command("go", "build", "-o", swarm, "swarm/cmd/swarm").CombinedOutput(); err != nil {
		return fmt.Errorf("build swarm: %v\n%s", err, out)
	}
	file := filepath.Join(work, "data.bin")
	if err := randfile.WriteFile(file, size, 1); err != nil {
		return err
	}
	tools := map[string]func(out string) *exec.Cmd{
		"swarm": func(out string) *exec.Cmd {
			return exec.Command(swarm, "create", file, "-o", out, "--workers", "2", "--force")
		},
		"mktorrent": func(out string) *exec.Cmd {
			return exec.Command("mktorrent", "-t", "2", "-l", "18", "-o", out, file)
		},
	}
	wall := map[string][]float64{}
	cpu := map[string][]float64{}
	enc := json.NewEncoder(os.Stdout)
	for i := range runs {
		for _, name := range []string{"mktorrent", "swarm"} { // alternate, so neither always runs on a warmer machine
			out := filepath.Join(work, name+".torrent")
			os.Remove(out)
			cmd := tools[name](out)
			start := time.Now()
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %v\n%s", name, err, b)
			}
			w := time.Since(start).Seconds()
			c := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
			wall[name] = append(wall[name], w)
			cpu[name] = append(cpu[name], c)
			enc.Encode(result{Tool: name, Run: i + 1, Bytes: size, WallS: w, CPUS: c, MBPerS: float64(size) / w / 1e6, Threads: 2})
		}
	}
	sw, mw := median(wall["swarm"]), median(wall["mktorrent"])
	sc, mc := median(cpu["swarm"]), median(cpu["mktorrent"])
	return enc.Encode(map[string]any{
		"summary": "swarm create vs mktorrent -t 2 (median)", "bytes": size,
		"swarm_wall_s": sw, "mktorrent_wall_s": mw, "wall_ratio": sw / mw,
		"swarm_cpu_s": sc, "mktorrent_cpu_s": mc, "cpu_ratio": sc / mc,
	})
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
