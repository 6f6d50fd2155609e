//go:build !linux

package procinfo

// PortOwner is not implemented outside Linux.
func PortOwner(port int) (pid int, comm string, ok bool) { return 0, "", false }
