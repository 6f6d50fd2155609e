package supervisor

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/devstack-dev/devstack/internal/glob"
	"github.com/fsnotify/fsnotify"
)

// DefaultIgnore lists the globs every watch ignores besides the service's own: VCS and dependency
// directories, build output, caches, devstack's state, logs and editor temp files.
var DefaultIgnore = []string{
	".git", ".hg", ".svn", "node_modules", ".venv", "venv", "dist", "build", "__pycache__", "*.pyc",
	".devstack", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".next", ".nuxt", ".turbo", "coverage",
	".idea", ".vscode", "*.log", ".DS_Store",
	"*.swp", "*.swo", "*.swx", "*~", "4913", ".#*", "#*#", "*___jb_tmp___", "*___jb_old___", "*.tmp",
}

const debounceCap = 10 * time.Second

// clock is time, injectable so debounce tests don't sleep.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) interface{ Stop() bool }
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	return time.AfterFunc(d, f)
}

// change is one debounced batch of file changes.
type change struct {
	Paths []string  // absolute, in the order first seen
	First time.Time // when the first of them was seen
}

// coalescer turns a burst of file events into one change: it fires once no event came for quiet, or
// cap after the first event of the burst, whichever is first.
type coalescer struct {
	mu      sync.Mutex
	clock   clock
	quiet   time.Duration
	cap     time.Duration
	emit    func(change)
	pending []string
	seen    map[string]bool
	first   time.Time
	timer   interface{ Stop() bool }
	gen     int
}

func newCoalescer(c clock, quiet, cap time.Duration, emit func(change)) *coalescer {
	if cap < quiet {
		cap = quiet
	}
	return &coalescer{clock: c, quiet: quiet, cap: cap, emit: emit, seen: map[string]bool{}}
}

func (c *coalescer) add(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if len(c.pending) == 0 {
		c.first = now
	}
	if !c.seen[p] {
		c.seen[p] = true
		c.pending = append(c.pending, p)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	d := c.quiet
	if left := c.first.Add(c.cap).Sub(now); left < d {
		d = max(left, 0)
	}
	c.gen++
	gen := c.gen
	c.timer = c.clock.AfterFunc(d, func() { c.fire(gen) })
}

func (c *coalescer) fire(gen int) {
	c.mu.Lock()
	if gen != c.gen || len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	ch := change{Paths: c.pending, First: c.first}
	c.pending, c.seen, c.timer = nil, map[string]bool{}, nil
	c.mu.Unlock()
	c.emit(ch)
}

func (c *coalescer) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.gen++
	c.pending, c.seen = nil, map[string]bool{}
}

// fileFilter decides which paths a service's watch reacts to.
type fileFilter struct {
	dir         string
	include     []string
	ignore      []string
	setupInputs []string
	ignoreAbs   []string // absolute directories never watched (the state dir)
	// gitIgnore holds the patterns of the .gitignore files that apply to dir (build output is almost
	// always there). An explicit include wins over them.
	gitIgnore []string
}

// gitIgnores reads the .gitignore files of dir and of its parents up to the repository root, and
// returns their patterns relative to dir. Negations are not supported and are skipped.
func gitIgnores(dir string) []string {
	var out []string
	cur, rel := dir, ""
	for range 32 {
		if b, err := os.ReadFile(filepath.Join(cur, ".gitignore")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
					continue
				}
				pat := strings.TrimSuffix(line, "/")
				anchored := strings.Contains(pat, "/")
				pat = strings.TrimPrefix(pat, "/")
				switch {
				case pat == "":
				case !anchored || strings.HasPrefix(pat, "**/"):
					out = append(out, pat)
				case rel == "":
					out = append(out, "/"+pat)
				case strings.HasPrefix(pat, rel+"/"):
					out = append(out, "/"+strings.TrimPrefix(pat, rel+"/"))
				}
			}
		}
		if _, err := os.Stat(filepath.Join(cur, ".git")); err == nil {
			break
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			break
		}
		rel = filepath.ToSlash(filepath.Join(filepath.Base(cur), rel))
		cur = parent
	}
	return out
}

func (f *fileFilter) rel(abs string) (string, bool) {
	r, err := filepath.Rel(f.dir, abs)
	if err != nil || strings.HasPrefix(r, "..") {
		// outside the service dir (an absolute watch path): match on the path below its root
		return filepath.ToSlash(strings.TrimPrefix(abs, "/")), true
	}
	return filepath.ToSlash(r), true
}

func (f *fileFilter) ignored(abs string) bool {
	for _, a := range f.ignoreAbs {
		if abs == a || strings.HasPrefix(abs, a+string(filepath.Separator)) {
			return true
		}
	}
	r, _ := f.rel(abs)
	for _, g := range f.ignore {
		if glob.Match(g, r) {
			return true
		}
	}
	return false
}

// wants reports whether a change to the file abs should trigger a reload.
func (f *fileFilter) wants(abs string) bool {
	if isSetupInput(f.dir, f.setupInputs, abs) {
		return true
	}
	if f.ignored(abs) {
		return false
	}
	r, _ := f.rel(abs)
	if len(f.include) == 0 {
		return !f.gitIgnored(r)
	}
	for _, g := range f.include {
		if glob.Match(g, r) {
			return true
		}
	}
	return false
}

func (f *fileFilter) gitIgnored(rel string) bool {
	for _, g := range f.gitIgnore {
		if glob.Match(g, rel) {
			return true
		}
	}
	return false
}

// ignoredDir says whether a directory is left unwatched: explicitly ignored, or (when there is no
// include list that could reach into it) ignored by git.
func (f *fileFilter) ignoredDir(abs string) bool {
	if f.ignored(abs) {
		return true
	}
	if len(f.include) > 0 {
		return false
	}
	r, _ := f.rel(abs)
	return f.gitIgnored(r)
}

// watcher watches a service's paths recursively and feeds wanted changes into a coalescer.
type watcher struct {
	fsw    *fsnotify.Watcher
	filter *fileFilter
	roots  []string
	co     *coalescer
	log    *slog.Logger
	fds    int  // descriptors its watches hold (watch_budget.go)
	full   bool // the descriptor budget stopped it from watching a directory
}

func newWatcher(roots []string, filter *fileFilter, co *coalescer, log *slog.Logger) (*watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("start file watcher: %w (raise fs.inotify.max_user_instances?)", err)
	}
	w := &watcher{fsw: fsw, filter: filter, roots: roots, co: co, log: log}
	for _, r := range roots {
		st, err := os.Stat(r)
		if err != nil {
			continue // may appear later; its parent is not watched, so it is skipped
		}
		if !st.IsDir() {
			_ = fsw.Add(r)
			continue
		}
		w.addTree(r, false)
	}
	// setup inputs outside the watched trees
	for _, in := range filter.setupInputs {
		p := in
		if !filepath.IsAbs(p) {
			p = filepath.Join(filter.dir, p)
		}
		if _, err := os.Stat(p); err == nil && !w.covered(p) {
			_ = fsw.Add(filepath.Dir(p))
		}
	}
	return w, nil
}

func (w *watcher) covered(p string) bool {
	for _, r := range w.roots {
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) {
			return !w.filter.ignoredDir(filepath.Dir(p))
		}
	}
	return false
}

// walk visits root and every directory below it that the filter does not skip (onDir), and the
// files in them it wants (onFile; nil skips the check). A root the user named is walked even when
// ignored. The watcher and the build fingerprint (build.go) both select files this way.
func (f *fileFilter) walk(root string, isRoot bool, onDir, onFile func(string)) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if f.ignoredDir(p) && (p != root || !isRoot) {
				return filepath.SkipDir
			}
			if onDir != nil {
				onDir(p)
			}
			return nil
		}
		if onFile != nil && f.wants(p) {
			onFile(p)
		}
		return nil
	})
}

// addTree watches dir and every directory below it that is not ignored; with report, files found
// in it count as changes (they were created before the watch could see them).
func (w *watcher) addTree(dir string, report bool) {
	var onFile func(string)
	if report {
		onFile = w.co.add
	}
	w.filter.walk(dir, w.isRoot(dir), func(p string) {
		if n := watchCost(p); n > 0 {
			if !reserveWatchFDs(n) {
				if !w.full {
					w.full = true
					w.log.Warn("not watching every directory: on macOS each watched file and directory holds a file descriptor, and this tree needs more than the "+
						"watchers' budget (half the open-file limit); changes in the rest do not reload. Add watch.ignore globs for large generated "+
						"directories, or raise the limit: ulimit -n (its ceiling is sysctl kern.maxfilesperproc)", "dir", p, "budget", watchFDLimit())
				}
				return
			}
			w.fds += n
		}
		if err := w.fsw.Add(p); err != nil {
			w.log.Warn("watch directory", "dir", p, "err", err)
		}
	}, onFile)
}

func (w *watcher) isRoot(p string) bool {
	for _, r := range w.roots {
		if r == p {
			return true
		}
	}
	return false
}

// run delivers events until ctx ends, then closes the watcher.
func (w *watcher) run(ctx context.Context) {
	defer func() { releaseWatchFDs(w.fds) }()
	defer w.fsw.Close()
	defer w.co.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watch", "err", err)
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		}
	}
}

func (w *watcher) handle(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	p := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			if !w.filter.ignoredDir(p) {
				w.addTree(p, true)
			}
			return
		}
	}
	if w.filter.wants(p) {
		w.co.add(p)
	}
}
