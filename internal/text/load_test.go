package text

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "ptb"), os.DirFS("testdata/ptb")); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("testdata/ptb")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec, root, why string
		name            string
		level           Level
	}{
		{"tiny", "", "generated, no files", "tiny", Word},
		{"tiny-char", "", "generated, no files", "tiny-char", Char},
		{"ptb:testdata/ptb", "", "the PTB files in a named directory", "ptb:testdata/ptb", Word},
		{abs, "", "a directory holding ptb.train.txt", "ptb:" + abs, Word},
		{"ptb", root, "root/ptb", "ptb:" + filepath.Join(root, "ptb"), Word},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			c, err := Load(tc.spec, tc.root, Options{})
			if err != nil {
				t.Fatalf("%s: %v", tc.why, err)
			}
			if c.Name != tc.name || c.Level != tc.level {
				t.Errorf("%s: %q at %v, want %q at %v", tc.why, c.Name, c.Level, tc.name, tc.level)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		spec, why string
		want      []string
	}{
		{"brown", "make data was not run", []string{"text: brown:", filepath.Join(empty, "brown"), "run `make data`"}},
		{"fortunes", "make data was not run", []string{"text: fortunes:", filepath.Join(empty, "fortunes"), "run `make data`"}},
		{"ptb", "the user has not copied the files", []string{"missing ptb.train.txt, ptb.valid.txt, ptb.test.txt in " + filepath.Join(empty, "ptb"), "ptb:DIR"}},
		{"ptb:" + empty, "a directory without the files", []string{"missing ptb.train.txt, ptb.valid.txt, ptb.test.txt in " + empty}},
		{"wikitext", "an unknown name", []string{`text: unknown corpus "wikitext": want brown, fortunes, ptb, tiny, tiny-char, ptb:DIR or a directory`}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Load(tc.spec, empty, Options{})
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s: error %v does not wrap fs.ErrNotExist", tc.why, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q lacks %q", tc.why, err, w)
				}
			}
		})
	}
	if _, err := Load("tiny", "", Options{VocabSize: 1}); err == nil {
		t.Error("Load accepted VocabSize 1")
	}
}

// TestEmptyRoot: an empty root is dataroot.Default, which honours
// $NAS_DATA: a corpus under it loads.
func TestEmptyRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "ptb"), os.DirFS("testdata/ptb")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NAS_DATA", root)
	if _, err := Load("ptb", "", Options{}); err != nil {
		t.Errorf("ptb under NAS_DATA: %v", err)
	}
}
