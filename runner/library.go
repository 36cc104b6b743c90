package runner

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// FetchedSHA256 is the sha256 of the library `make ort` fetches
// (scripts/fetch-ort.sh pins the same sum: ONNX Runtime 1.30.0, the Linux x64
// CPU build inside the npm package onnxruntime-node@1.30.0).
const FetchedSHA256 = "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"

// FetchedDir is the name of the directory `make ort` fetches the library into.
const FetchedDir = ".ort"

// apiSymbol is the entry point every ONNX Runtime library exports (and the
// one onnxruntime_go looks up).
const apiSymbol = "OrtGetApiBase"

// checkLibrary checks the file lib before it is loaded, because loading a
// damaged library does not fail, it crashes the process (a truncated one
// with SIGBUS as soon as a page past its end is touched): it must be an ELF
// shared object for this machine, every segment must lie inside the file,
// and it must export OrtGetApiBase.
//
// A library in a directory named .ort is taken to be the one `make ort`
// fetched there, and its sha256 must be FetchedSHA256: that catches a
// damaged download that still looks like a library. Other libraries are the
// user's own builds, whose sums nas cannot know. The hash is taken once per
// process.
func checkLibrary(lib string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("runner: loading %s: %s: %w", lib, fmt.Sprintf(format, args...), ErrLibrary)
	}
	st, err := os.Stat(lib)
	if err != nil {
		return bad("%v", err)
	}
	size := st.Size()
	fh, err := os.Open(lib)
	if err != nil {
		return bad("%v", err)
	}
	defer fh.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(fh, magic); err != nil || !bytes.Equal(magic, []byte(elf.ELFMAG)) {
		return bad("not an ELF shared library (%d bytes)", size)
	}
	f, err := elf.NewFile(fh)
	if err != nil {
		return bad("damaged or truncated ELF file (%d bytes): %v", size, err)
	}
	if f.Type != elf.ET_DYN {
		return bad("ELF file of type %v, not a shared library", f.Type)
	}
	if want, ok := elfMachine[runtime.GOARCH]; ok && f.Machine != want {
		return bad("a library for %v, this machine is %s", f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if end := p.Off + p.Filesz; p.Type == elf.PT_LOAD && end > uint64(size) {
			return bad("truncated: %d bytes, its segments need %d (fetch it again: make ort)", size, end)
		}
	}
	for _, s := range f.Sections {
		if end := s.Offset + s.FileSize; s.Type != elf.SHT_NOBITS && end > uint64(size) {
			return bad("truncated: %d bytes, section %s needs %d (fetch it again: make ort)", size, s.Name, end)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return bad("reading its symbols: %v", err)
	}
	found := false
	for _, s := range syms {
		if s.Name == apiSymbol && s.Section != elf.SHN_UNDEF {
			found = true
			break
		}
	}
	if !found {
		return bad("does not export %s: not an ONNX Runtime library", apiSymbol)
	}
	if filepath.Base(filepath.Dir(lib)) != FetchedDir {
		return nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return bad("%v", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return bad("%v", err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != FetchedSHA256 {
		return bad("sha256 %s, not the library make ort fetches (%s): delete it and run make ort again, "+
			"or keep your own build outside a %s directory and point %s at it", sum, FetchedSHA256, FetchedDir, EnvLibrary)
	}
	return nil
}

// elfMachine is the ELF machine of each GOARCH nas runs on.
var elfMachine = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}
