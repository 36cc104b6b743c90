package text

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/nas-project/nas/internal/dataroot"
)

// Names lists the named corpora Load knows, for help texts.
var Names = []string{"brown", "fortunes", "ptb", "tiny", "tiny-char"}

// Load returns the corpus spec names:
//
//   - "brown": the Brown corpus under root/brown (word level; `make data`
//     fetches it), see LoadBrown;
//   - "fortunes": Debian's fortunes under root/fortunes (character level;
//     `make data` fetches it), see LoadFortunes;
//   - "ptb": the PTB files under root/ptb, which the user puts there;
//   - "ptb:DIR", or a directory holding ptb.train.txt: the PTB files in
//     DIR (word level), see LoadPTB;
//   - "tiny", "tiny-char": the generated fixture (see Tiny), no files.
//
// root "" means dataroot.Default(). A missing corpus wraps fs.ErrNotExist and
// says how to get it.
func Load(spec, root string, opt Options) (*Corpus, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if root == "" && (spec == "brown" || spec == "fortunes" || spec == "ptb") {
		root = dataroot.Default()
	}
	hint := func(c *Corpus, err error, how string) (*Corpus, error) {
		if err != nil && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", err, how)
		}
		return c, err
	}
	switch spec {
	case "tiny":
		return Tiny(Word, opt)
	case "tiny-char":
		return Tiny(Char, opt)
	case "brown":
		c, err := LoadBrown(filepath.Join(root, "brown"), opt)
		return hint(c, err, "run `make data` to fetch it")
	case "fortunes":
		c, err := LoadFortunes(filepath.Join(root, "fortunes"), opt)
		return hint(c, err, "run `make data` to fetch it")
	case "ptb":
		c, err := LoadPTB(filepath.Join(root, "ptb"), opt)
		return hint(c, err, "copy ptb.train.txt, ptb.valid.txt and ptb.test.txt there, or name their directory as ptb:DIR")
	}
	if dir, ok := strings.CutPrefix(spec, "ptb:"); ok {
		return LoadPTB(dir, opt)
	}
	if exists(filepath.Join(spec, ptbFiles[0])) {
		return LoadPTB(spec, opt)
	}
	return nil, fmt.Errorf("text: unknown corpus %q: want %s, ptb:DIR or a directory holding %s, %s and %s: %w",
		spec, strings.Join(Names, ", "), ptbFiles[0], ptbFiles[1], ptbFiles[2], fs.ErrNotExist)
}
