//go:build !linux

package fsperm

// inheritPrivate does nothing here: without default ACLs, dir's 0700 keeps what is created inside it out
// of other users' reach.
func inheritPrivate(string) error { return nil }
