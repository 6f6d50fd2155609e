//go:build !linux

package procinfo

// PortOwner finds the process listening on TCP port through lsof (present on macOS; without /proc
// there is no cheaper way). ok is false when none is found, lsof is missing, or the owner cannot be
// seen (another user's process); it is best effort.
func PortOwner(port int) (pid int, comm string, ok bool) { return portOwnerLsof(port) }
