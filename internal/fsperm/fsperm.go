// Package fsperm keeps a directory private to its owner: devstack's state directory and the broker's
// data directory hold service logs, Kafka records and secrets. It imports nothing internal.
package fsperm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Private makes dir (created when missing) and everything already in it accessible to its owner only:
// the dir itself 0700, and the group and other permission bits removed from every file and directory
// below it, except the direct children named in skip (left to whoever owns them). Files that
// libraries create later with 0644 or 0755 inside dir come out 0600 or 0700 where the file system
// supports default POSIX ACLs (Linux: ext4, xfs, btrfs, tmpfs); elsewhere dir's own 0700 still keeps
// them out of other users' reach and the next Private call tightens them.
//
// An error is returned only when dir itself cannot be created or made private; an entry below it that
// cannot be changed (another user's, say) is reported in the returned warning.
func Private(dir string, skip ...string) (warning, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make %s private to its owner: %w (is it another user's? run devstack as that user or take it over with chown -R)", dir, err)
	}
	var errs []error
	if err := inheritPrivate(dir); err != nil {
		errs = append(errs, err)
	}
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if p == dir || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if d.IsDir() && filepath.Dir(p) == dir && slices.Contains(skip, d.Name()) {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&^0o077); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			} else {
				n++
			}
		}
		return nil
	})
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d entries made private; others could not be: %w", dir, n, errors.Join(errs...)), nil
	}
	return nil, nil
}
