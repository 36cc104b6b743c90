//go:build !linux

package dist

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere a worker
// whose search was killed reconnects forever to a server that is gone
// (stop it by hand).
func dieWithParent(*exec.Cmd) {}
