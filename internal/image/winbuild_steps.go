package image

// windowsStepNames are the steps of a Windows build, in order.
func windowsStepNames(r *Recipe) []string {
	return []string{"fetch inputs", "prepare disk", "answer media", "start swtpm", "boot", "wait for ssh", "health check", "power off", "compact", "write outputs"}
}
