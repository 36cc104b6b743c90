package text

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ParseFortunes reads one fortune(6) data file: fortunes separated by lines
// holding only "%" (or "%\r"). It returns the fortunes in order, each its lines with
// their newlines (a last line without one gets one); empty fortunes (two
// separators in a row, a separator at the end) are dropped. The text must
// pass the checks of the package doc; name is used in errors.
func ParseFortunes(name string, data []byte) ([]string, error) {
	if err := checkText(name, data); err != nil {
		return nil, err
	}
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	_ = lines(data, func(_ int, l []byte) error {
		if s := string(l); s == "%" || s == "%\r" {
			flush()
			return nil
		}
		cur.Write(l)
		cur.WriteByte('\n')
		return nil
	})
	flush()
	return out, nil
}

// FortuneFiles returns the fortune data files in dir: its regular files
// whose names have no dot (the text files; fortune's .dat indexes, the .u8
// links and archives have one), in sorted order.
func FortuneFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("text: fortunes: %w", err)
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.Contains(e.Name(), ".") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if files == nil {
		return nil, fmt.Errorf("text: fortunes: no fortune files (names without a dot) in %s: %w", dir, fs.ErrNotExist)
	}
	return files, nil
}

// LoadFortunes loads the fortune files of dir (FortuneFiles) as a
// character-level corpus named "fortunes". The fortunes are numbered
// across the files in order (files sorted by name, fortunes in file
// order); fortune i goes to valid when i mod 10 = 8, to test when it is 9,
// else to train. Each split is its fortunes, each followed by a line "%":
// a split is itself a fortune file.
func LoadFortunes(dir string, opt Options) (*Corpus, error) {
	files, err := FortuneFiles(dir)
	if err != nil {
		return nil, err
	}
	var splits [3]strings.Builder
	i := 0
	for _, path := range files {
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		fs, err := ParseFortunes(path, data)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			s := &splits[splitOf(i)]
			s.WriteString(f)
			s.WriteString("%\n")
			i++
		}
	}
	if err := splitsFilled("fortunes", fmt.Sprintf("%d fortunes in %d files in %s", i, len(files), dir), splits[0].Len(), splits[1].Len(), splits[2].Len()); err != nil {
		return nil, err
	}
	return NewChars("fortunes", splits[0].String(), splits[1].String(), splits[2].String(), opt)
}
