package dataset

import (
	"errors"
	"testing"
)

// The parsers never panic: on any input they either fail with ErrFormat or
// return data consistent with what they claim. Seeds: testdata/fuzz/ and the
// f.Add calls below.

func FuzzIDX(f *testing.F) {
	f.Add(idxBytes(0x803, []uint32{2, 2, 2}, seq(8, 3, 1)))
	f.Add(idxBytes(0x801, []uint32{3}, []byte{1, 2, 3}))
	f.Add(gz(f, idxBytes(0x803, []uint32{1, 2, 3}, seq(6, 1, 0))))
	f.Add(idxBytes(0x803, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil))
	f.Fuzz(func(t *testing.T, raw []byte) {
		data, err := decode(raw, gzipLimit(len(raw)))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("decode error %v does not wrap ErrFormat", err)
			}
			return
		}
		n, h, w, x, err := parseIDXImages(data)
		if err == nil && (n*h*w != len(x) || len(x) != len(data)-16) {
			t.Fatalf("images %dx%dx%d with %d values from %d bytes", n, h, w, len(x), len(data))
		}
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not wrap ErrFormat", err)
		}
		y, err := parseIDXLabels(data)
		if err == nil && len(y) != len(data)-8 {
			t.Fatalf("%d labels from %d bytes", len(y), len(data))
		}
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not wrap ErrFormat", err)
		}
	})
}

func FuzzCIFAR10(f *testing.F) {
	f.Add(cifarRecords(1, 3))
	f.Add(gz(f, cifarRecords(2, 0)))
	f.Add([]byte{10})
	f.Fuzz(func(t *testing.T, raw []byte) {
		data, err := decode(raw, gzipLimit(len(raw)))
		if err != nil {
			return
		}
		x, y, err := parseCIFAR10(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if len(y)*cifarRecord != len(data) || len(x) != len(y)*cifarImage {
			t.Fatalf("%d labels, %d values from %d bytes", len(y), len(x), len(data))
		}
		for i, v := range y {
			if v < 0 || v >= cifarClasses {
				t.Fatalf("label %d of record %d accepted", v, i)
			}
		}
	})
}
