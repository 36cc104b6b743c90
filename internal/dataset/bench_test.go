package dataset

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nas-project/nas/internal/dataroot"
)

func BenchmarkLoadFashionSmall(b *testing.B) {
	for b.Loop() {
		if _, _, err := Load(fashionSmall, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadDigits(b *testing.B) {
	for b.Loop() {
		if _, _, err := Load("digits", ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadFashionMNIST loads the full data set (70,000 images) when
// `make data` has put it under dataroot.Default(); it is a measurement, not a test.
func BenchmarkLoadFashionMNIST(b *testing.B) {
	if _, err := os.Stat(filepath.Join(dataroot.Default(), "fashion-mnist")); err != nil {
		b.Skipf("full Fashion-MNIST not present (run `make data`): %v", err)
	}
	for b.Loop() {
		if _, _, err := Load("fashion-mnist", ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatsNormalize(b *testing.B) {
	train, _, err := Load(fashionSmall, "")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(train.X) * 4))
	for b.Loop() {
		if err := train.Normalize(Stats(train)); err != nil {
			b.Fatal(err)
		}
	}
}
