package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// imageExts are the file extensions an image folder's images may have
// (lower case); other files are ignored.
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif"}

// isImageFolder reports whether dir looks like an image folder: train/ and
// test/ directories.
func isImageFolder(dir string) bool {
	for _, sub := range []string{"train", "test"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// LoadImageFolder reads a data set laid out as dir/train/<class>/<image> and
// dir/test/<class>/<image> (torchvision's ImageFolder, split in two). The
// classes are the training split's class directories in sorted order; a
// test class must be one of them. Images are PNG, JPEG or GIF files (by
// extension; other files are skipped), read in sorted order; all must have
// the same size. Images load with C = 1 when every one is grayscale, else
// as RGB (C = 3; a gray image's value in all three); transparent pixels
// are taken as composited over black.
func LoadImageFolder(dir string) (train, test *Set, err error) {
	name := filepath.Base(filepath.Clean(dir))
	classes, err := subdirs(filepath.Join(dir, "train"))
	if err != nil {
		return nil, nil, err
	}
	if len(classes) < 2 {
		return nil, nil, fmt.Errorf("dataset: %s: %d class directories, want at least 2: %w", filepath.Join(dir, "train"), len(classes), ErrFormat)
	}
	trainFiles, trainY, err := listImages(filepath.Join(dir, "train"), classes, true)
	if err != nil {
		return nil, nil, err
	}
	testFiles, testY, err := listImages(filepath.Join(dir, "test"), classes, false)
	if err != nil {
		return nil, nil, err
	}
	// First the headers: one size for all, and whether all are gray.
	all := append(slices.Clone(trainFiles), testFiles...)
	var size image.Point
	gray := true
	for i, f := range all {
		cfg, err := readConfig(f)
		if err != nil {
			return nil, nil, err
		}
		if sz := (image.Point{cfg.Width, cfg.Height}); i == 0 {
			size = sz
		} else if sz != size {
			return nil, nil, fmt.Errorf("dataset: %s is %v but %s is %v: every image must have the same size (resize them first): %w",
				f, sz, all[0], size, ErrFormat)
		}
		if cfg.ColorModel != color.GrayModel && cfg.ColorModel != color.Gray16Model {
			gray = false
		}
	}
	c := 3
	if gray {
		c = 1
	}
	set := func(split string, files []string, y []int64) (*Set, error) {
		s := &Set{Name: name + "/" + split, C: c, H: size.Y, W: size.X, Classes: len(classes), Y: y, Labels: classes}
		s.X = make([]float32, 0, len(files)*s.ImageSize())
		for _, f := range files {
			img, err := readImage(f)
			if err != nil {
				return nil, err
			}
			if img.Bounds().Size() != size {
				return nil, fmt.Errorf("dataset: %s decodes to %v, its header says %v: %w", f, img.Bounds().Size(), size, ErrFormat)
			}
			s.X = appendPixels(s.X, img, c)
		}
		return s, nil
	}
	if train, err = set("train", trainFiles, trainY); err != nil {
		return nil, nil, err
	}
	if test, err = set("test", testFiles, testY); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// subdirs lists the directories in dir, sorted.
func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// listImages lists the image files of each class directory of split (every
// class must have some in the training split; a test split may lack a class
// but not have one of its own) with their labels.
func listImages(split string, classes []string, train bool) (files []string, y []int64, err error) {
	dirs, err := subdirs(split)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range dirs {
		if !slices.Contains(classes, d) {
			return nil, nil, fmt.Errorf("dataset: %s: class %q is not a class of the training split (%s): %w",
				split, d, strings.Join(classes, ", "), ErrFormat)
		}
	}
	for label, cl := range classes {
		ents, err := os.ReadDir(filepath.Join(split, cl))
		if err != nil && !(os.IsNotExist(err) && !train) {
			return nil, nil, fmt.Errorf("dataset: %w", err)
		}
		n := 0
		for _, e := range ents {
			if e.Type().IsRegular() && slices.Contains(imageExts, strings.ToLower(filepath.Ext(e.Name()))) {
				files = append(files, filepath.Join(split, cl, e.Name()))
				y = append(y, int64(label))
				n++
			}
		}
		if n == 0 && train {
			return nil, nil, fmt.Errorf("dataset: %s has no image (.png, .jpg, .jpeg, .gif): %w", filepath.Join(split, cl), ErrFormat)
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("dataset: %s has no image: %w", split, ErrFormat)
	}
	return files, y, nil
}

// readConfig decodes one image file's header.
func readConfig(path string) (image.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return image.Config{}, fmt.Errorf("dataset: %s: %v: %w", path, err, ErrFormat)
	}
	return cfg, nil
}

// readImage decodes one image file.
func readImage(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %v: %w", path, err, ErrFormat)
	}
	return img, nil
}

// appendPixels appends img's pixels 0..255 in CHW order, c = 1 (gray) or 3.
func appendPixels(x []float32, img image.Image, c int) []float32 {
	b := img.Bounds()
	plane := b.Dx() * b.Dy()
	start := len(x)
	x = append(x, make([]float32, c*plane)...)
	i := 0
	for py := b.Min.Y; py < b.Max.Y; py++ {
		for px := b.Min.X; px < b.Max.X; px++ {
			if c == 1 {
				x[start+i] = float32(color.GrayModel.Convert(img.At(px, py)).(color.Gray).Y)
			} else {
				r, g, bl, _ := img.At(px, py).RGBA()
				x[start+i] = float32(r >> 8)
				x[start+plane+i] = float32(g >> 8)
				x[start+2*plane+i] = float32(bl >> 8)
			}
			i++
		}
	}
	return x
}
