package qemu

import (
	"context"
	"os/exec"
)

// SwtpmCommand returns (without starting it) the software TPM 2.0 that a
// Machine with TPMSocket = ctrlSocket talks to. stateDir keeps the TPM's
// state (OUT/NAME.tpm/ for an image that is booted again with it). swtpm
// exits by itself when QEMU disconnects (--terminate).
func SwtpmCommand(ctx context.Context, stateDir, ctrlSocket string) *exec.Cmd {
	return exec.CommandContext(ctx, "swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+escapeOpt(stateDir),
		"--ctrl", "type=unixio,path="+escapeOpt(ctrlSocket),
		"--terminate", "--log", "level=1")
}
