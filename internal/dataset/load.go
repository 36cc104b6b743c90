package dataset

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nas-project/nas/internal/dataroot"
)

// The IDX file names of MNIST and Fashion-MNIST, without the optional ".gz".
var (
	idxTrainImages = "train-images-idx3-ubyte"
	idxTrainLabels = "train-labels-idx1-ubyte"
	idxTestImages  = "t10k-images-idx3-ubyte"
	idxTestLabels  = "t10k-labels-idx1-ubyte"
)

// Names of the data sets Load knows, with their directory under the root.
var known = map[string]string{
	"fashion-mnist": "fashion-mnist",
	"mnist":         "mnist",
	"cifar10":       "cifar-10-batches-bin",
}

// classNames are the class names of the named data sets.
var classNames = map[string][]string{
	"fashion-mnist": {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
	"mnist":         {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
	"digits":        {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
	"cifar10":       {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"},
}

//go:embed testdata/digits/*.gz
var digitsFS embed.FS

// Load returns the training and test splits of a data set with raw pixel
// values 0..255. spec is one of
//
//   - "fashion-mnist", "mnist": the four IDX files under root/<spec>/
//     (what `make data` fetches), 10 classes;
//   - "cifar10": the CIFAR-10 binary batches under root/cifar-10-batches-bin/;
//   - "digits": scikit-learn's 8×8 digits, embedded in the binary (1,497
//     train, 300 test), 10 classes;
//   - a directory path holding either the four IDX files (gzipped as
//     NAME.gz or raw as NAME; classes = largest training label + 1), the
//     CIFAR-10 batches data_batch_1.bin .. data_batch_5.bin and
//     test_batch.bin, or an image folder: train/<class>/*.png|jpg|gif and
//     test/<class>/… (LoadImageFolder).
//
// root "" means dataroot.Default(). A missing file is reported by name, with an
// error that wraps fs.ErrNotExist.
func Load(spec, root string) (train, test *Set, err error) {
	defer func() {
		if err == nil && train.Labels == nil {
			if names := classNames[spec]; len(names) == train.Classes {
				train.Labels, test.Labels = names, names
			}
		}
	}()
	if spec == "digits" {
		return loadDigits()
	}
	if sub, ok := known[spec]; ok {
		if root == "" {
			root = dataroot.Default()
		}
		dir := filepath.Join(root, sub)
		if spec == "cifar10" {
			return loadCIFARDir(spec, dir, "download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it into "+root)
		}
		return loadIDXDir(spec, dir, 10, "run `make data` to fetch it")
	}
	fi, err := os.Stat(spec)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("dataset: unknown data set %q: want fashion-mnist, mnist, cifar10, digits or a directory (IDX files, CIFAR-10 batches or train/ and test/ image folders): %w", spec, err)
		}
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("dataset: %s is not a directory", spec)
	}
	if isImageFolder(spec) {
		return LoadImageFolder(spec)
	}
	name := filepath.Base(filepath.Clean(spec))
	if exists(filepath.Join(spec, cifarTestFiles[0])) || exists(filepath.Join(spec, cifarTrainFiles[0])) {
		return loadCIFARDir(name, spec, "")
	}
	for _, b := range []string{idxTrainImages, idxTrainLabels, idxTestImages, idxTestLabels} {
		if exists(filepath.Join(spec, b)) || exists(filepath.Join(spec, b+".gz")) {
			return loadIDXDir(name, spec, 0, "")
		}
	}
	return nil, nil, fmt.Errorf("dataset: %s holds no data set: want the IDX files %s[.gz], %s[.gz], %s[.gz] and %s[.gz]; "+
		"the CIFAR-10 batches %s … %s and %s; or an image folder, train/<class>/*.png|jpg|gif and test/<class>/…: %w",
		spec, idxTrainImages, idxTrainLabels, idxTestImages, idxTestLabels, cifarTrainFiles[0], cifarTrainFiles[len(cifarTrainFiles)-1], cifarTestFiles[0], fs.ErrNotExist)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// missingError names every missing file of a data set in dir.
func missingError(name, dir string, missing []string, hint string) error {
	msg := fmt.Sprintf("dataset: %s: missing %s in %s", name, strings.Join(missing, ", "), dir)
	if hint != "" {
		msg += ": " + hint
	}
	return fmt.Errorf("%s: %w", msg, fs.ErrNotExist)
}

// loadIDXDir loads the four IDX files in dir, each NAME.gz or NAME.
func loadIDXDir(name, dir string, classes int, hint string) (train, test *Set, err error) {
	bases := []string{idxTrainImages, idxTrainLabels, idxTestImages, idxTestLabels}
	paths := make([]string, len(bases))
	var missing []string
	for i, b := range bases {
		switch gz, raw := filepath.Join(dir, b+".gz"), filepath.Join(dir, b); {
		case exists(gz):
			paths[i] = gz
		case exists(raw):
			paths[i] = raw
		default:
			missing = append(missing, b+".gz")
		}
	}
	if missing != nil {
		return nil, nil, missingError(name, dir, missing, hint)
	}
	train, err = LoadIDX(name+"/train", paths[0], paths[1], classes)
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadIDX(name+"/test", paths[2], paths[3], train.Classes)
	if err != nil {
		return nil, nil, err
	}
	if err := sameShape(train, test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func sameShape(train, test *Set) error {
	if train.C != test.C || train.H != test.H || train.W != test.W {
		return fmt.Errorf("dataset: %s images are %dx%dx%d but %s images are %dx%dx%d: %w",
			train.Name, train.C, train.H, train.W, test.Name, test.C, test.H, test.W, ErrFormat)
	}
	return nil
}

// loadCIFARDir loads the six CIFAR-10 batches in dir.
func loadCIFARDir(name, dir, hint string) (train, test *Set, err error) {
	var missing []string
	for _, f := range append(append([]string{}, cifarTrainFiles...), cifarTestFiles...) {
		if !exists(filepath.Join(dir, f)) {
			missing = append(missing, f)
		}
	}
	if missing != nil {
		return nil, nil, missingError(name, dir, missing, hint)
	}
	join := func(files []string) []string {
		p := make([]string, len(files))
		for i, f := range files {
			p[i] = filepath.Join(dir, f)
		}
		return p
	}
	if train, err = LoadCIFAR10(name+"/train", join(cifarTrainFiles)...); err != nil {
		return nil, nil, err
	}
	if test, err = LoadCIFAR10(name+"/test", join(cifarTestFiles)...); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// loadDigits loads the embedded digits fixture.
func loadDigits() (train, test *Set, err error) {
	read := func(base string) ([]byte, error) {
		raw, err := digitsFS.ReadFile("testdata/digits/" + base + ".gz")
		if err != nil {
			return nil, fmt.Errorf("dataset: digits: %w", err)
		}
		data, err := decode(raw, gzipLimit(len(raw)))
		if err != nil {
			return nil, fmt.Errorf("dataset: digits: %s: %w", base, err)
		}
		return data, nil
	}
	var files [4][]byte
	for i, b := range []string{idxTrainImages, idxTrainLabels, idxTestImages, idxTestLabels} {
		if files[i], err = read(b); err != nil {
			return nil, nil, err
		}
	}
	if train, err = idxSet("digits/train", files[0], files[1], "digits/"+idxTrainImages, "digits/"+idxTrainLabels, 10); err != nil {
		return nil, nil, err
	}
	if test, err = idxSet("digits/test", files[2], files[3], "digits/"+idxTestImages, "digits/"+idxTestLabels, 10); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}
