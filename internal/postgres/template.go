package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The initdb template. initdb costs seconds (it bootstraps the catalogs and fsyncs ~1000 files); a fresh
// stack instead copies a cluster that initdb made once per machine into CacheDir/templates/<key>/data. The
// key covers everything that shapes the cluster: the binaries (version string and path), the superuser's
// name, locale, encoding and authentication. The superuser's password is not in the template: it is set
// over the unix socket (trust) at every start, so a changed postgres.password takes effect.
const templateFormat = "devstack-initdb-template-v1"

// clusterLocale is C.UTF-8 when the C library has it (codepoint order, Unicode-aware upper/lower), else C.
func clusterLocale() string {
	for _, d := range []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return "C.UTF-8"
		}
	}
	if out, err := exec.Command("locale", "-a").Output(); err == nil {
		for _, l := range strings.Fields(string(out)) {
			if strings.EqualFold(l, "C.utf8") || strings.EqualFold(l, "C.UTF-8") {
				return "C.UTF-8"
			}
		}
	}
	return "C"
}

func (s *Server) initdbArgs(dir string) []string {
	return []string{
		"-D", dir,
		"-U", s.o.User,
		"-E", "UTF8",
		"--locale=" + clusterLocale(),
		"--auth-local=trust", // the socket directory and socket are 0700: only the account (and root) get in
		"--auth-host=scram-sha-256",
	}
}

func (s *Server) templateKey() string {
	h := sha256.New()
	fmt.Fprintln(h, templateFormat)
	fmt.Fprintln(h, s.bin.version, s.bin.dir)
	fmt.Fprintln(h, strings.Join(s.initdbArgs("-"), " "))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// template returns the template's PGDATA, creating it when missing.
func (s *Server) template(ctx context.Context) (string, error) {
	base := filepath.Join(s.o.CacheDir, "templates")
	final := filepath.Join(base, s.bin.major+"-"+s.templateKey())
	data := filepath.Join(final, "data")
	if readPGVersion(data) != "" {
		s.log.Debug("using initdb template", "dir", data)
		return data, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	build, err := os.MkdirTemp(base, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(build)
	if err := os.Chmod(build, 0o755); err != nil {
		return "", err
	}
	if err := s.runAs.mkdirOwned(filepath.Join(build, "data"), 0o700); err != nil {
		return "", err
	}
	t0 := time.Now()
	s.log.Info("creating the initdb template (once per machine and PostgreSQL version)", "dir", final)
	if err := s.initdb(ctx, filepath.Join(build, "data")); err != nil {
		return "", err
	}
	s.log.Debug("initdb template ready", "took", time.Since(t0))
	if err := os.Rename(build, final); err != nil {
		if readPGVersion(data) != "" { // another devstack made it meanwhile
			return data, nil
		}
		return "", err
	}
	return data, nil
}

// initdb creates a cluster in dir (an empty directory the account owns).
func (s *Server) initdb(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin.dir, "initdb"), s.initdbArgs(dir)...)
	cmd.Env = childEnv()
	cmd.Dir = "/"
	cmd.SysProcAttr = s.runAs.sysProcAttr(true)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s (as OS user %s): %w\n%s", dir, s.runAs.name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// copyTree copies a directory tree (regular files, directories, symlinks), keeping permissions. Files are
// copied by a few workers (a cluster is ~1000 small files: the cost is syscalls, not bytes) with
// copy_file_range (reflinks on filesystems that have them).
func copyTree(src, dst string) error {
	type job struct {
		src, dst string
		perm     fs.FileMode
	}
	jobs := make(chan job, 64)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := copyFile(j.src, j.dst, j.perm); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir(): // parents are created before the files in them are queued
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case info.Mode().IsRegular():
			jobs <- job{p, target, info.Mode().Perm()}
			return nil
		default:
			return nil // sockets, fifos: none in a cluster at rest
		}
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	return first
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:12]
}
