package dataset

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// grayImage is image i of a 1-channel set as an 8-bit gray image.
func grayImage(s *Set, i int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, s.W, s.H))
	for k, v := range s.X[i*s.ImageSize() : (i+1)*s.ImageSize()] {
		img.Pix[k] = uint8(v)
	}
	return img
}

// TestImageFolderRoundTrip: the digits fixture written as PNG files in
// class folders loads back (through Load) with the same pixels and labels,
// ordered by class, then file name.
func TestImageFolderRoundTrip(t *testing.T) {
	train, test, err := Load("digits", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(split string, s *Set, n int) *Set {
		var idx []int
		for c := range int64(s.Classes) { // the expected order: by class, then file
			for i := range n {
				if s.Y[i] == c {
					idx = append(idx, i)
					writePNG(t, filepath.Join(dir, split, fmt.Sprint(c), fmt.Sprintf("%04d.png", i)), grayImage(s, i))
				}
			}
		}
		return s.pick(s.Name, idx)
	}
	wantTrain, wantTest := write("train", train, 200), write("test", test, 60)
	if err := os.WriteFile(filepath.Join(dir, "train", "0", "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	gotTrain, gotTest, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want *Set }{{gotTrain, wantTrain}, {gotTest, wantTest}} {
		if err := c.got.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.got.C != 1 || c.got.H != 8 || c.got.W != 8 || c.got.Classes != 10 ||
			!slices.Equal(c.got.X, c.want.X) || !slices.Equal(c.got.Y, c.want.Y) {
			t.Errorf("%s: %dx%dx%d, %d classes, %d images; want the %d images written", c.got.Name, c.got.C, c.got.H, c.got.W, c.got.Classes, c.got.Len(), c.want.Len())
		}
	}
	if train.Labels[3] != "3" || gotTrain.Labels[3] != "3" {
		t.Errorf("labels %q and %q", train.Labels, gotTrain.Labels)
	}
	if gotTrain.Name != filepath.Base(dir)+"/train" {
		t.Errorf("name %q", gotTrain.Name)
	}
}

// TestImageFolderRGB: colour images load as CHW planes; a gray image among
// them has its value in all three.
func TestImageFolderRGB(t *testing.T) {
	dir := t.TempDir()
	rgb := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		rgb.Set(i%3, i/3, color.NRGBA{R: uint8(10 + i), G: uint8(100 + i), B: uint8(200 + i), A: 255})
	}
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(50 + i)
	}
	writePNG(t, filepath.Join(dir, "train", "cat", "a.png"), rgb)
	writePNG(t, filepath.Join(dir, "train", "dog", "b.png"), gray)
	writePNG(t, filepath.Join(dir, "test", "dog", "c.png"), gray)
	train, test, err := LoadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{
		10, 11, 12, 13, 14, 15, 100, 101, 102, 103, 104, 105, 200, 201, 202, 203, 204, 205, // cat: R, G, B planes
		50, 51, 52, 53, 54, 55, 50, 51, 52, 53, 54, 55, 50, 51, 52, 53, 54, 55, // dog: gray thrice
	}
	if train.C != 3 || train.H != 2 || train.W != 3 || !slices.Equal(train.X, want) || !slices.Equal(train.Y, []int64{0, 1}) {
		t.Errorf("train %dx%dx%d X %v Y %v", train.C, train.H, train.W, train.X, train.Y)
	}
	if !slices.Equal(train.Labels, []string{"cat", "dog"}) || !slices.Equal(test.Labels, train.Labels) {
		t.Errorf("labels %q and %q, want the class folders' names", train.Labels, test.Labels)
	}
	if test.C != 3 || !slices.Equal(test.X, want[18:]) || !slices.Equal(test.Y, []int64{1}) || test.Classes != 2 {
		t.Errorf("test %dx%dx%d X %v Y %v classes %d", test.C, test.H, test.W, test.X, test.Y, test.Classes)
	}
}

func TestImageFolderErrors(t *testing.T) {
	small := image.NewGray(image.Rect(0, 0, 4, 4))
	big := image.NewGray(image.Rect(0, 0, 5, 4))
	cases := []struct {
		name  string
		files map[string]image.Image // nil image: a corrupt .png
		want  string
	}{
		{"sizes differ", map[string]image.Image{"train/a/1.png": small, "train/b/2.png": big, "test/a/3.png": small}, "b/2.png is (5,4) but"},
		{"corrupt image", map[string]image.Image{"train/a/1.png": small, "train/b/2.png": nil, "test/a/3.png": small}, "b/2.png: image: unknown format"},
		{"unknown test class", map[string]image.Image{"train/a/1.png": small, "train/b/2.png": small, "test/c/3.png": small}, `class "c" is not a class of the training split (a, b)`},
		{"one class", map[string]image.Image{"train/a/1.png": small, "test/a/3.png": small}, "1 class directories, want at least 2"},
		{"empty class", map[string]image.Image{"train/a/1.png": small, "train/b/x.txt": small, "test/a/3.png": small}, "train/b has no image"},
		{"empty test split", map[string]image.Image{"train/a/1.png": small, "train/b/2.png": small, "test/x.txt": small}, "test has no image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, img := range c.files {
				path := filepath.Join(dir, name)
				switch {
				case img == nil || strings.HasSuffix(name, ".txt"):
					os.MkdirAll(filepath.Dir(path), 0o755)
					if err := os.WriteFile(path, []byte("not a png"), 0o644); err != nil {
						t.Fatal(err)
					}
				default:
					writePNG(t, path, img)
				}
			}
			_, _, err := Load(dir, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Errorf("err = %v, want a format error with %q", err, c.want)
			}
		})
	}
}
