package text

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// brownName matches the 500 text files of the Brown corpus, form C: "c",
// the genre a..r, two digits (ca01 … cr09).
var brownName = regexp.MustCompile(`^c[a-r][0-9][0-9]$`)

// brownPunct are the Brown tags of punctuation (after the -hl, -tl, -nc
// suffixes are removed): sentence closers (. ; ? ! :) tagged ".", the comma,
// the colon, brackets, the dash, the quotes.
var brownPunct = map[string]bool{".": true, ",": true, ":": true, "(": true, ")": true, "--": true, "``": true, "''": true, "'": true}

// brownTag returns the tag without the suffixes -hl (headline), -tl (title)
// and -nc (cited word), which the corpus appends to any tag.
func brownTag(tag string) string {
	for {
		t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(tag, "-hl"), "-tl"), "-nc")
		if t == tag || t == "" || t == "-" {
			return tag
		}
		tag = t
	}
}

// isNumber reports whether a word is a number PTB-style: at least one
// ASCII digit, and nothing but digits and . , : / - (1960, 3.5, 1,000,
// 1/2, 10:30, 1961-62).
func isNumber(w string) bool {
	digit := false
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '.' || c == ',' || c == ':' || c == '/' || c == '-':
		default:
			return false
		}
	}
	return digit
}

// ParseBrown reads one file of the Brown corpus in its tagged form
// ("The/at jury/nn said/vbd ./."): every non-blank line is a sentence,
// tokens are separated by spaces or tabs, each token is word/tag split at
// its last "/". It returns the sentences prepared as the PTB files were:
// tags stripped, punctuation (tokens whose tag is one of brownPunct: . , :
// ( ) -- and the three quote tags) dropped, words lowercased, numbers (see
// the package doc) replaced by "N", each sentence followed by EOS; a
// sentence left with no words is dropped. name is used in errors, which give the line and the token.
func ParseBrown(name string, data []byte) ([]string, error) {
	if err := checkText(name, data); err != nil {
		return nil, err
	}
	toks := make([]string, 0, len(data)/12)
	intern := map[string]string{}
	err := lines(data, func(n int, l []byte) error {
		fields := bytes.Fields(l)
		words := 0
		for k, f := range fields {
			slash := bytes.LastIndexByte(f, '/')
			if slash <= 0 || slash == len(f)-1 {
				return fmt.Errorf("text: %s:%d: token %d %q is not word/tag: %w", name, n, k+1, f, ErrFormat)
			}
			if brownPunct[brownTag(string(f[slash+1:]))] {
				continue
			}
			w := strings.ToLower(string(f[:slash]))
			if isNumber(w) {
				w = "N"
			}
			if w == EOS || w == UNK {
				return fmt.Errorf("text: %s:%d: token %d is the reserved word %q: %w", name, n, k+1, w, ErrFormat)
			}
			s, ok := intern[w]
			if !ok {
				s = w
				intern[s] = s
			}
			toks = append(toks, s)
			words++
		}
		if words > 0 {
			toks = append(toks, EOS)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return toks, nil
}

// BrownFiles returns the Brown text files in dir (names ca01 … cr09), in
// sorted order: the corpus' own document order, genre by genre.
func BrownFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("text: brown: %w", err)
	}
	var files []string
	for _, e := range ents { // ReadDir sorts by name
		if brownName.MatchString(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if files == nil {
		return nil, fmt.Errorf("text: brown: no Brown corpus files (ca01 … cr09) in %s: %w", dir, fs.ErrNotExist)
	}
	return files, nil
}

// splitOf returns the split of document i of a corpus: of every ten
// consecutive documents, the first eight train, the ninth validates, the
// tenth tests (80/10/10 with every genre in every split).
func splitOf(i int) int {
	switch i % 10 {
	case 8:
		return 1
	case 9:
		return 2
	}
	return 0
}

// LoadBrown loads the Brown corpus from dir (the files BrownFiles finds)
// as a word-level corpus named "brown": every file parsed by ParseBrown,
// file i (in sorted order) goes to the split splitOf(i) says: i mod 10 = 8
// valid, 9 test, else train.
func LoadBrown(dir string, opt Options) (*Corpus, error) {
	files, err := BrownFiles(dir)
	if err != nil {
		return nil, err
	}
	var splits [3][]string
	for i, path := range files {
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		toks, err := ParseBrown(path, data)
		if err != nil {
			return nil, err
		}
		s := splitOf(i)
		splits[s] = append(splits[s], toks...)
	}
	if err := splitsFilled("brown", fmt.Sprintf("%d files in %s", len(files), dir), len(splits[0]), len(splits[1]), len(splits[2])); err != nil {
		return nil, err
	}
	return NewWords("brown", splits[0], splits[1], splits[2], opt)
}

// splitsFilled reports the first empty split of a corpus cut by splitOf.
func splitsFilled(name, what string, train, valid, test int) error {
	for _, s := range []struct {
		split string
		n     int
	}{{"train", train}, {"valid", valid}, {"test", test}} {
		if s.n == 0 {
			return fmt.Errorf("text: %s: %s leave the %s split empty (of every ten documents the ninth validates, the tenth tests): %w", name, what, s.split, ErrFormat)
		}
	}
	return nil
}
