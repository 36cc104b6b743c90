package dist

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a worker process when the process
// that started it dies, even by SIGKILL: a search killed leaves no
// orphaned workers training for a queue that is gone. (Pdeathsig is
// delivered when the thread that started the process exits; Go's runtime
// does not end its threads while the process lives.)
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
