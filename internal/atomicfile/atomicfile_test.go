package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestWrite: the content replaces the old, the mode is 0644 whatever the
// temporary file had, and nothing else is left in the directory.
func TestWrite(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "best.onnx")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "new" {
		t.Fatalf("content %q, %v; want new", b, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if n := names(t, dir); !slices.Equal(n, []string{"best.onnx"}) {
		t.Errorf("directory holds %v, want only best.onnx", n)
	}
}

// TestWriteFailure: a failing writer leaves the old file and no temporary.
func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "controller.ckpt")
	if err := Write(p, []byte("good")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFunc(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v: want boom, naming the file", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "good" {
		t.Errorf("content %q after a failed write, want the old", b)
	}
	if n := names(t, dir); !slices.Equal(n, []string{"controller.ckpt"}) {
		t.Errorf("directory holds %v after a failed write", n)
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("write into a missing directory: %v", err)
	}
	// Over a directory (nas train -o /tmp): refused, nothing left behind.
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(sub, []byte("model")); err == nil {
		t.Error("writing over a directory: no error")
	}
	if n := names(t, dir); !slices.Equal(n, []string{"controller.ckpt", "d"}) {
		t.Errorf("directory holds %v after writing over a directory", n)
	}
}

// TestClean: temporaries of interrupted writes, and names the caller
// recognises, are removed; everything else stays.
func TestClean(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"nas.db", "best.onnx", ".best.onnx.tmp-123", ".controller.ckpt.tmp-9", "controller.ckpt.tmp42", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".x.tmp-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	legacy := func(n string) bool { return strings.HasPrefix(n, "controller.ckpt.tmp") }
	got, err := Clean(dir, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".best.onnx.tmp-123", ".controller.ckpt.tmp-9", "controller.ckpt.tmp42"}; !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if want := []string{".x.tmp-dir", "best.onnx", "nas.db", "notes.txt"}; !slices.Equal(names(t, dir), want) {
		t.Errorf("left %v, want %v (directories are never removed)", names(t, dir), want)
	}
}
