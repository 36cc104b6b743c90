package text

import (
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// The file names of the Penn Treebank as Mikolov prepared it.
var ptbFiles = [3]string{"ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"}

// ParsePTB reads one file in the PTB format: already tokenised text, one
// sentence per line, tokens separated by whitespace. It returns each line's
// tokens followed by EOS, as TensorFlow's PTB reader does (an empty line
// gives a lone EOS). name is used in errors. The text must pass the checks
// of the package doc (no NUL byte, valid UTF-8, lines of at most
// MaxLineSize bytes).
func ParsePTB(name string, data []byte) ([]string, error) {
	if err := checkText(name, data); err != nil {
		return nil, err
	}
	toks := make([]string, 0, len(data)/5)
	intern := map[string]string{}
	_ = lines(data, func(_ int, l []byte) error {
		for _, f := range bytes.Fields(l) {
			s, ok := intern[string(f)]
			if !ok {
				s = string(f)
				intern[s] = s
			}
			toks = append(toks, s)
		}
		toks = append(toks, EOS)
		return nil
	})
	return toks, nil
}

// LoadPTB loads ptb.train.txt, ptb.valid.txt and ptb.test.txt from dir as a
// word-level corpus named after dir. With the real files and the default
// options the vocabulary is the files' own 10,000 words (<unk> included).
func LoadPTB(dir string, opt Options) (*Corpus, error) {
	var splits [3][]string
	var missing []string
	for _, f := range ptbFiles {
		if !exists(filepath.Join(dir, f)) {
			missing = append(missing, f)
		}
	}
	if missing != nil {
		return nil, fmt.Errorf("text: ptb: missing %s in %s: %w", strings.Join(missing, ", "), dir, fs.ErrNotExist)
	}
	for i, f := range ptbFiles {
		path := filepath.Join(dir, f)
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		if splits[i], err = ParsePTB(path, data); err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("text: %s: no tokens (an empty split): %w", path, ErrFormat)
		}
	}
	return NewWords("ptb:"+dir, splits[0], splits[1], splits[2], opt)
}
