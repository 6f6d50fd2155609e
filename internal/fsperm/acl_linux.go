package fsperm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// inheritPrivate sets a default ACL on dir granting nothing to group and others, so that files and
// directories created inside it, whatever mode their creator asks for, lose the group and other bits
// (a default ACL replaces the umask; new subdirectories inherit it). See acl(5); the xattr value is the
// kernel's posix_acl_xattr format: a version, then (tag, permissions, id) entries.
func inheritPrivate(dir string) error {
	const (
		version  = 2
		userObj  = 0x01
		groupObj = 0x04
		other    = 0x20
		undefID  = 0xFFFFFFFF
	)
	b := binary.LittleEndian.AppendUint32(nil, version)
	for _, e := range [][2]uint16{{userObj, 7}, {groupObj, 0}, {other, 0}} {
		b = binary.LittleEndian.AppendUint16(b, e[0])
		b = binary.LittleEndian.AppendUint16(b, e[1])
		b = binary.LittleEndian.AppendUint32(b, undefID)
	}
	err := unix.Setxattr(dir, "system.posix_acl_default", b, 0)
	if errors.Is(err, unix.ENOTSUP) {
		return nil // no ACLs on this file system: dir's 0700 is the protection
	}
	if err != nil {
		return fmt.Errorf("set a default ACL on %s: %w", dir, err)
	}
	return nil
}
