package text

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePTB(t *testing.T) {
	for _, tc := range []struct {
		name, why, in string
		want          []string
	}{
		{"ptb", "the PTB files: a space before and after each line", " the cat \n a <unk> N \n", words("the cat <eos> a <unk> N <eos>")},
		{"no final newline", "the last line counts", "a b\nc", words("a b <eos> c <eos>")},
		{"empty line", "gives a lone EOS, as TensorFlow's reader", "a\n\nb\n", words("a <eos> <eos> b <eos>")},
		{"whitespace", "tabs, runs of spaces and CR separate tokens", "a\t b  c\r\n", words("a b c <eos>")},
		{"empty", "no lines, no tokens", "", nil},
		{"utf-8", "tokens are bytes of valid UTF-8, untouched", "Café naïve\n", words("Café naïve <eos>")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePTB("f", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.why, got, tc.want)
			}
		})
	}
}

func TestLoadPTB(t *testing.T) {
	c, err := LoadPTB("testdata/ptb", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// train: the ×5, sat ×3; cat, on, dog, a ×2 (in order of first
	// appearance); mat, log, saw, N, days once (<unk> keeps id 1).
	want := []string{"<eos>", "<unk>", "the", "sat", "cat", "on", "dog", "a", "mat", "log", "saw", "N", "days"}
	if !slices.Equal(c.Vocab, want) {
		t.Errorf("vocab %q, want %q", c.Vocab, want)
	}
	if got := c.Decode(c.Valid); got != "the cat saw the <unk>\n" {
		t.Errorf("valid %q: bird is not in train", got)
	}
	if c.Name != "ptb:testdata/ptb" || c.Level != Word {
		t.Errorf("name %q level %v", c.Name, c.Level)
	}
	if tr, va, te := c.Tokens(); tr != 26 || va != 6 || te != 10 {
		t.Errorf("tokens %d/%d/%d, want 26/6/10", tr, va, te)
	}
}

// writePTB writes the three files into a new directory; a nil content
// leaves that file out.
func writePTB(t *testing.T, train, valid, test []byte) string {
	t.Helper()
	dir := t.TempDir()
	for i, b := range [][]byte{train, valid, test} {
		if b != nil {
			if err := os.WriteFile(filepath.Join(dir, ptbFiles[i]), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	ok := []byte("a b\n")
	long := []byte("a\n" + strings.Repeat("x", MaxLineSize+1) + "\n")
	for _, tc := range []struct {
		name, why string
		dir       func(t *testing.T) string
		want      []string // substrings of the error; the path of the bad file is checked too
		file      string   // the file the error must name
		is        error
	}{
		{"binary", "a NUL byte: line and offset", func(t *testing.T) string {
			return writePTB(t, []byte("a b\nc\x00d\n"), ok, ok)
		}, []string{"ptb.train.txt:2: NUL byte at offset 5 (byte 1 of the line)"}, "ptb.train.txt", ErrFormat},
		{"utf-8", "invalid UTF-8: line and offset", func(t *testing.T) string {
			return writePTB(t, ok, []byte("x\nab\xc3(\n"), ok)
		}, []string{"ptb.valid.txt:2: invalid UTF-8 at offset 4 (byte 2 of the line)"}, "ptb.valid.txt", ErrFormat},
		{"long line", "a line over MaxLineSize", func(t *testing.T) string {
			return writePTB(t, ok, ok, long)
		}, []string{"ptb.test.txt:2: line of 1048577 bytes (offset 2), over the limit"}, "ptb.test.txt", ErrFormat},
		{"empty split", "a test file with blank lines only", func(t *testing.T) string {
			return writePTB(t, ok, ok, []byte("\n \n"))
		}, []string{"ptb.test.txt: no tokens (an empty split)"}, "ptb.test.txt", ErrFormat},
		{"missing", "every missing file is named", func(t *testing.T) string {
			return writePTB(t, ok, nil, nil)
		}, []string{"missing ptb.valid.txt, ptb.test.txt in"}, "", fs.ErrNotExist},
		{"too large", "a (sparse) file over MaxFileSize is refused before it is read", func(t *testing.T) string {
			dir := writePTB(t, ok, ok, ok)
			if err := os.Truncate(filepath.Join(dir, ptbFiles[0]), MaxFileSize+1); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"ptb.train.txt: 268435457 bytes, over the limit of 268435456"}, "ptb.train.txt", ErrFormat},
		{"directory", "a directory where a file should be", func(t *testing.T) string {
			dir := writePTB(t, ok, ok, nil)
			if err := os.Mkdir(filepath.Join(dir, ptbFiles[2]), 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"ptb.test.txt is not a regular file"}, "ptb.test.txt", ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			c, err := LoadPTB(dir, Options{})
			if err == nil {
				t.Fatalf("%s: loaded %v", tc.why, c)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "text: ") || !errors.Is(err, tc.is) {
				t.Errorf("%s: error %q: want the prefix text: and to wrap %v", tc.why, msg, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: error %q lacks %q", tc.why, msg, w)
				}
			}
			if tc.file != "" && !strings.Contains(msg, filepath.Join(dir, tc.file)) {
				t.Errorf("%s: error %q does not name %s", tc.why, msg, filepath.Join(dir, tc.file))
			}
		})
	}
}
