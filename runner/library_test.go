package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchedSHA256 keeps the sum checked at load time and the one
// scripts/fetch-ort.sh verifies after the download the same fact.
func TestFetchedSHA256(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "scripts", "fetch-ort.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "want="+FetchedSHA256+"\n") {
		t.Errorf("scripts/fetch-ort.sh does not pin want=%s (runner.FetchedSHA256): change both together", FetchedSHA256)
	}
}
