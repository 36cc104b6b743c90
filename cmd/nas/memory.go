package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The default memory limit of a child (--memory-limit auto): what the
// machine really has for this process, so that a child that would exhaust
// it is refused as oversized instead of getting the search killed.

// memoryFlag is --memory-limit: a byte count (with an optional binary
// suffix: 512M, 4G), 0 for no limit, or auto.
type memoryFlag struct {
	bytes *int64
	auto  *bool
}

func (m memoryFlag) String() string {
	if m.auto != nil && *m.auto {
		return "auto"
	}
	if m.bytes == nil {
		return "0"
	}
	return strconv.FormatInt(*m.bytes, 10)
}

func (m memoryFlag) Set(s string) error {
	if s == "auto" {
		*m.auto, *m.bytes = true, 0
		return nil
	}
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*m.auto, *m.bytes = false, v
	return nil
}

func (m memoryFlag) Type() string { return "bytes|auto" }

// parseBytes reads a byte count: digits, optionally a binary suffix K, M,
// G or T (KiB, MiB, ... and KB, MB, ... read the same).
func parseBytes(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), 1.0
	up := strings.ToUpper(num)
	for i, u := range []string{"K", "M", "G", "T"} {
		for _, suf := range []string{u + "IB", u + "B", u} {
			if strings.HasSuffix(up, suf) {
				num, mult = num[:len(num)-len(suf)], math.Pow(1024, float64(i+1))
				goto parsed
			}
		}
	}
parsed:
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || v*mult > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size in bytes (e.g. 4G, 512M, 0 for no limit, or auto)", s)
	}
	return int64(v * mult), nil
}

// machineMemory is the memory this process may use: the smallest memory
// limit of its cgroup and the cgroups above it (v2 memory.max, v1
// memory.limit_in_bytes), or the available memory (/proc/meminfo's
// MemAvailable) when that is smaller or there is no limit; root prefixes
// every path (tests). The string says where the number comes from; 0 when
// nothing could be read.
func machineMemory(root string) (int64, string) {
	var best int64
	var from string
	if lim, path := cgroupLimit(root); lim > 0 {
		best, from = lim, path
	}
	if avail := memAvailable(root); avail > 0 && (best == 0 || avail < best) {
		best, from = avail, "MemAvailable in /proc/meminfo"
	}
	return best, from
}

// noLimit: cgroup v1 writes "no limit" as a huge number (2^63 rounded
// down to a page).
const noLimit = 1 << 60

// cgroupLimit is the smallest memory limit set on this process's cgroups
// (0 and "" when none is), and the file that sets it.
func cgroupLimit(root string) (int64, string) {
	f, err := os.Open(filepath.Join(root, "/proc/self/cgroup"))
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	var best int64
	var from string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var base, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			base, file = "/sys/fs/cgroup", "memory.max"
		case hasController(parts[1], "memory"):
			base, file = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// This cgroup and every one above it (a container sees its own
		// as the root of the mount).
		for dir := filepath.Clean("/" + parts[2]); ; dir = filepath.Dir(dir) {
			path := filepath.Join(root, base, dir, file)
			if b, err := os.ReadFile(path); err == nil {
				s := strings.TrimSpace(string(b))
				if v, err := strconv.ParseInt(s, 10, 64); err == nil && v > 0 && v < noLimit && (best == 0 || v < best) {
					best, from = v, strings.TrimPrefix(path, root)
				}
			}
			if dir == "/" {
				break
			}
		}
	}
	return best, from
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// memAvailable is /proc/meminfo's MemAvailable in bytes (0: unknown).
func memAvailable(root string) int64 {
	b, err := os.ReadFile(filepath.Join(root, "/proc/meminfo"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

// minHeadroom is the least memory kept for the search itself (its data
// sets, ONNX Runtime, the controller) when the limit is automatic.
const minHeadroom = 512 << 20

// autoMemoryLimit is the memory limit of each of parallel children trained
// at once: the machine's memory (machineMemory) less a quarter of it, at
// least minHeadroom, for the search, shared equally; 0 (no limit) when
// the machine's memory is unknown. The string says how it was reached.
func autoMemoryLimit(root string, parallel int) (int64, string) {
	mem, from := machineMemory(root)
	if mem <= 0 {
		return 0, "no limit: the machine's memory is unknown"
	}
	headroom := max(int64(minHeadroom), mem/4)
	per := (mem - headroom) / int64(max(1, parallel))
	if per <= 0 {
		per = 1 // nothing fits: every child is refused, none kills the search
	}
	return per, fmt.Sprintf("auto: %s from %s, less %s for the search, for %d child(ren) at once",
		humanBytes(mem), from, humanBytes(headroom), max(1, parallel))
}

// humanBytes writes a byte count in binary units: 5.5 GiB, 512 MiB.
func humanBytes(v int64) string {
	f := float64(v)
	for _, u := range []string{"TiB", "GiB", "MiB", "KiB"} {
		div := math.Pow(1024, float64(map[string]int{"TiB": 4, "GiB": 3, "MiB": 2, "KiB": 1}[u]))
		if f >= div {
			return strconv.FormatFloat(f/div, 'f', 1, 64) + " " + u
		}
	}
	return strconv.FormatInt(v, 10) + " B"
}
