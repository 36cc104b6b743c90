package dataroot

import (
	"path/filepath"
	"testing"
)

// TestDefault: $NAS_DATA when set, else this checkout's .data (found by
// its go.mod from a directory below it).
func TestDefault(t *testing.T) {
	t.Setenv("NAS_DATA", "/some/where")
	if got := Default(); got != "/some/where" {
		t.Errorf("Default() = %q with NAS_DATA set", got)
	}
	t.Setenv("NAS_DATA", "")
	want, err := filepath.Abs("../../.data")
	if err != nil {
		t.Fatal(err)
	}
	if got := Default(); got != want {
		t.Errorf("Default() = %q, want the checkout's .data %q", got, want)
	}
	t.Chdir(t.TempDir()) // no checkout above
	if got := Default(); got != ".data" {
		t.Errorf("Default() outside a checkout = %q, want .data", got)
	}
}
