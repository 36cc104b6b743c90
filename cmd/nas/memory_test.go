package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAutoMemoryLimit: --memory-limit auto reads what the machine really
// has for this process: the smallest limit of its cgroups (v2 and v1, the
// cgroup's own or one above it), else MemAvailable, less the headroom,
// shared by the children at once.
func TestAutoMemoryLimit(t *testing.T) {
	const gib = 1 << 30
	meminfo := "MemTotal:       24683584 kB\nMemFree:  100 kB\nMemAvailable:   16777216 kB\n" // 16 GiB
	for _, c := range []struct {
		name     string
		files    map[string]string
		parallel int
		want     int64
		from     string
	}{
		{"cgroup v2 limit", map[string]string{
			"proc/self/cgroup":                        "0::/user.slice/nas\n",
			"sys/fs/cgroup/user.slice/nas/memory.max": "3221225472\n",
			"sys/fs/cgroup/user.slice/memory.max":     "max\n",
			"proc/meminfo":                            meminfo,
		}, 1, 3*gib - 3*gib/4, "/sys/fs/cgroup/user.slice/nas/memory.max"},
		{"cgroup v2 parent's limit, two children", map[string]string{
			"proc/self/cgroup":             "0::/a/b\n",
			"sys/fs/cgroup/a/b/memory.max": "max\n",
			"sys/fs/cgroup/a/memory.max":   "8589934592\n",
			"proc/meminfo":                 meminfo,
		}, 2, (8*gib - 2*gib) / 2, "/sys/fs/cgroup/a/memory.max"},
		{"cgroup v1, unlimited: MemAvailable", map[string]string{
			"proc/self/cgroup":                           "4:memory:/process_api/x\n1:cpu:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
			"proc/meminfo":                               meminfo,
		}, 1, 16*gib - 4*gib, "MemAvailable"},
		{"cgroup v1 limit", map[string]string{
			"proc/self/cgroup": "4:memory:/x\n",
			"sys/fs/cgroup/memory/x/memory.limit_in_bytes": "1073741824\n",
			"proc/meminfo": meminfo,
		}, 1, gib - 512<<20, "memory.limit_in_bytes"},
		{"nothing readable", map[string]string{}, 1, 0, "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, s := range c.files {
				path := filepath.Join(root, p)
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, how := autoMemoryLimit(root, c.parallel)
			if got != c.want || !strings.Contains(how, c.from) {
				t.Errorf("autoMemoryLimit = %d (%s), want %d from %s", got, how, c.want, c.from)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "1024": 1024, "4G": 4 << 30, "512M": 512 << 20, "1.5GiB": 3 << 29, "2k": 2048, "3MB": 3 << 20} {
		if got, err := parseBytes(s); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "lots", "4X", "1e300G"} {
		if _, err := parseBytes(s); err == nil {
			t.Errorf("parseBytes(%q): no error", s)
		}
	}
}
