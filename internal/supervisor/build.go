package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// A warm start skips the build when nothing it reads changed since the last successful build.
//
// What counts as the build's inputs: the build command, the service's directory and environment, the
// setup command and inputs (setupHash), and the content of every file under the watch paths that the
// watch filter would react to (the same fileFilter: include, ignore, DefaultIgnore, .gitignore); a
// service without a watch uses its directory with the default ignores and .gitignore.
//
// Content, not timestamps, decides: a touched-but-unchanged file, or a branch switched away and back,
// still skips. To stay fast the record keeps each file's size, mtime, ctime and inode beside its hash,
// and a file whose stat is unchanged is not read again (git's index does the same); ctime cannot be
// set by tools that preserve mtime (cp -p, rsync -t, tar), so such a rewrite is still re-read. A file
// written within racyWindow of the scan is never trusted by its stat alone next time.
//
// Outputs: files under the directory that the build wrote (modified since the build began, outside
// the inputs and the dependency/VCS directories) are recorded by stat; if one is deleted or rewritten
// afterwards (say, a hand-run build on another branch), the next start builds again. They are not
// inputs of the next build either, so output the filter does not ignore still lets a start skip.
// Outputs the build did not rewrite (incremental builds) or wrote outside the directory are not
// covered; when a start after a skipped build fails, the service is rebuilt once and started again.

const (
	buildRecordVersion = 1
	racyWindow         = 2 * time.Second
	maxReasonFiles     = 3
)

// fileStat is what decides whether a file needs to be read again.
type fileStat struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"` // ns; 0 means "do not trust, re-read"
	CTime int64  `json:"ctime"` // ns
	Ino   uint64 `json:"ino"`
}

type fileRecord struct {
	fileStat
	Sum string `json:"sum"` // sha256 of the content; "link:<target>" for a link to a directory or nowhere
}

// buildRecord is StateDir/build/<service>.json: the inputs of the last successful build.
type buildRecord struct {
	Version int                   `json:"version"`
	Key     string                `json:"key"` // command, dir, setup hash
	Env     map[string]string     `json:"env"` // name -> short hash of the value (no secrets in plain text)
	Files   map[string]fileRecord `json:"files"`
	Outputs map[string]fileStat   `json:"outputs"`
	BuiltAt time.Time             `json:"built_at"`
	Took    time.Duration         `json:"took"`
}

// volatileEnv are variables that differ between terminals and shells but never change what a build
// produces; they are left out of the fingerprint so a start from another terminal still skips.
var volatileEnv = map[string]bool{
	"_": true, "PWD": true, "OLDPWD": true, "SHLVL": true, "COLUMNS": true, "LINES": true,
	"SSH_AUTH_SOCK": true, "SSH_AGENT_PID": true, "SSH_CLIENT": true, "SSH_CONNECTION": true, "SSH_TTY": true,
	"GPG_TTY": true, "TERM_SESSION_ID": true, "WINDOWID": true, "TMUX": true, "TMUX_PANE": true, "STY": true,
	"WINDOW": true, "ITERM_SESSION_ID": true, "KITTY_WINDOW_ID": true, "KITTY_PID": true, "WEZTERM_PANE": true,
	"WT_SESSION": true, "ALACRITTY_WINDOW_ID": true, "XDG_SESSION_ID": true, "DBUS_SESSION_BUS_ADDRESS": true,
	"INVOCATION_ID": true, "JOURNAL_STREAM": true, "SECURITYSESSIONID": true, "TERM_PROGRAM_VERSION": true,
	"VSCODE_GIT_IPC_HANDLE": true, "VSCODE_GIT_ASKPASS_MAIN": true, "VSCODE_GIT_ASKPASS_NODE": true,
	"VSCODE_GIT_ASKPASS_EXTRA_ARGS": true, "VSCODE_IPC_HOOK_CLI": true, "VSCODE_INJECTION": true,
}

// outputSkip are directory names the output scan never enters: dependencies, VCS, caches.
var outputSkip = []string{".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
	".pytest_cache", ".mypy_cache", ".ruff_cache", ".turbo", ".devstack", ".idea", ".vscode"}

// buildInputs is the fingerprint of a build's inputs, taken before it runs.
type buildInputs struct {
	rec     buildRecord
	scanned time.Time     // when the scan began
	took    time.Duration // how long the scan took
	hashed  int           // files read (the rest were known by their stat)

	prevOutputs map[string]fileStat // of the build before
}

func (sv *service) buildRecordPath() string {
	return filepath.Join(sv.sup.buildDir, sv.spec.Name+".json")
}

func readBuildRecord(path string) *buildRecord {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var r buildRecord
	if json.Unmarshal(b, &r) != nil || r.Version != buildRecordVersion {
		return nil
	}
	return &r
}

func writeBuildRecord(path string, r *buildRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// buildRoots are the absolute paths whose files are build inputs: the watch paths, else Dir.
func (sv *service) buildRoots() []string {
	var roots []string
	if sv.spec.Watch != nil {
		roots = sv.spec.Watch.Paths
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	abs := make([]string, 0, len(roots))
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			r = filepath.Join(sv.spec.Dir, r)
		}
		abs = append(abs, filepath.Clean(r))
	}
	return abs
}

// scanBuildInputs fingerprints the build's inputs at time now; files whose stat matches prev are not
// read again.
func (sv *service) scanBuildInputs(setupSum string, prev *buildRecord, now time.Time) *buildInputs {
	in := &buildInputs{scanned: now}
	t0 := time.Now()
	h := sha256.New()
	fmt.Fprintf(h, "build %q\ndir %q\nsetup %s\n", sv.spec.Build, sv.spec.Dir, setupSum)
	in.rec = buildRecord{Version: buildRecordVersion, Key: hex.EncodeToString(h.Sum(nil)),
		Env: map[string]string{}, Files: map[string]fileRecord{}}
	for _, kv := range sv.spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		if volatileEnv[k] {
			continue
		}
		s := sha256.Sum256([]byte(v))
		in.rec.Env[k] = hex.EncodeToString(s[:8])
	}
	var known map[string]fileRecord
	var outputs map[string]fileStat
	if prev != nil {
		known, outputs = prev.Files, prev.Outputs
		in.prevOutputs = prev.Outputs
	}
	add := func(p string) {
		name := sv.relName(p)
		if _, dup := in.rec.Files[name]; dup {
			return
		}
		fr := fileRecord{}
		st, err := os.Stat(p)
		if o, ok := outputs[name]; ok && err == nil && statOf(st) == o {
			return // written by an earlier build and untouched since (staleReason checks that again)
		}
		switch {
		case err != nil || !st.Mode().IsRegular():
			// a link to nowhere or to a directory, or a special file: its target is what counts
			t, _ := os.Readlink(p)
			fr.Sum = "link:" + t
		default:
			fr.fileStat = statOf(st)
			if k, ok := known[name]; ok && k.MTime != 0 && k.fileStat == fr.fileStat {
				fr.Sum = k.Sum
			} else {
				fr.Sum = hashFile(p)
				in.hashed++
			}
			if in.scanned.Sub(time.Unix(0, max(fr.MTime, fr.CTime))) < racyWindow {
				fr.MTime = 0 // may change again within the timestamp granularity: re-read next time
			}
		}
		in.rec.Files[name] = fr
	}
	f := sv.inputFilter
	for _, root := range sv.buildRoots() {
		st, err := os.Lstat(root)
		if err != nil {
			in.rec.Files[sv.relName(root)] = fileRecord{Sum: "missing"}
			continue
		}
		if !st.IsDir() {
			if f.wants(root) {
				add(root)
			}
			continue
		}
		f.walk(root, true, nil, add)
	}
	in.took = time.Since(t0)
	return in
}

// relName names a file in the record: relative to Dir when inside it, else absolute.
func (sv *service) relName(p string) string {
	if r, err := filepath.Rel(sv.spec.Dir, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return filepath.ToSlash(r)
	}
	return p
}

func statOf(st fs.FileInfo) fileStat {
	out := fileStat{Size: st.Size(), MTime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		out.CTime = ctimeNano(sys)
		out.Ino = sys.Ino
	}
	return out
}

func hashFile(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "unreadable"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// staleReason says why the recorded build does not match these inputs ("" when it does).
func (sv *service) staleReason(in *buildInputs, prev *buildRecord) string {
	if prev == nil {
		return "no record of a previous build"
	}
	if prev.Key != in.rec.Key {
		return "build command, directory or setup inputs changed"
	}
	var env []string
	for k, v := range in.rec.Env {
		if prev.Env[k] != v {
			env = append(env, k)
		}
	}
	for k := range prev.Env {
		if _, ok := in.rec.Env[k]; !ok {
			env = append(env, k)
		}
	}
	if len(env) > 0 {
		sort.Strings(env)
		return "environment changed: " + listSome(env)
	}
	var changed []string
	for name, fr := range in.rec.Files {
		if p, ok := prev.Files[name]; !ok {
			changed = append(changed, name+" (new)")
		} else if p.Sum != fr.Sum {
			changed = append(changed, name)
		}
	}
	for name := range prev.Files {
		if _, ok := in.rec.Files[name]; !ok {
			changed = append(changed, name+" (deleted)")
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		return listSome(changed) + " changed"
	}
	var outs []string
	for name, want := range prev.Outputs {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(sv.spec.Dir, p)
		}
		st, err := os.Stat(p)
		if err != nil {
			outs = append(outs, name+" (deleted)")
			continue
		}
		if got := statOf(st); got != want {
			outs = append(outs, name)
		}
	}
	if len(outs) > 0 {
		sort.Strings(outs)
		return "build outputs changed since the last build: " + listSome(outs)
	}
	return ""
}

func listSome(list []string) string {
	if len(list) <= maxReasonFiles {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:maxReasonFiles], ", "), len(list)-maxReasonFiles)
}

// scanOutputs records, by stat, the files under Dir the build wrote: modified since it began (with
// slack for coarse timestamps), outside the inputs and dependency/VCS directories. Outputs of earlier
// builds that this one left untouched (incremental builds) stay recorded.
func (sv *service) scanOutputs(in *buildInputs, began time.Time) map[string]fileStat {
	since := began.Add(-time.Second).UnixNano()
	out := map[string]fileStat{}
	for name, want := range in.prevOutputs {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(sv.spec.Dir, p)
		}
		if st, err := os.Stat(p); err == nil && statOf(st) == want {
			out[name] = want
		}
	}
	state := sv.sup.opts.StateDir
	_ = filepath.WalkDir(sv.spec.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != sv.spec.Dir && (slices.Contains(outputSkip, d.Name()) || p == state) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		name := sv.relName(p)
		if _, isInput := in.rec.Files[name]; isInput {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.ModTime().UnixNano() < since {
			return nil
		}
		out[name] = statOf(info)
		return nil
	})
	return out
}

// ago prints how long ago t was, coarsely.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}
