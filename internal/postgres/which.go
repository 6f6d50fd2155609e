package postgres

import (
	"context"
	"path/filepath"
)

// Binaries is the PostgreSQL Start would run for some Options, found without starting or downloading
// anything (for `devstack version`).
type Binaries struct {
	Version string // "15.14" as postgres --version says; for a download not made yet, the build it would fetch ("15.13.0")
	Dir     string // its bin directory ("" for a download not made yet)
	Source  string // "bin_dir", "local", "download" (cached) or "download (not yet)"
}

// Which finds the PostgreSQL Start would run with o when no data directory exists yet: o.BinDir, else
// the best local install, else the download of o.Version (from the cache, or one it would fetch).
func Which(ctx context.Context, o Options) (Binaries, error) {
	if o.BinDir != "" {
		b, err := probeBinaries(ctx, o.BinDir, "bin_dir")
		if err != nil {
			return Binaries{Dir: o.BinDir, Source: "bin_dir"}, err
		}
		return b.export(), nil
	}
	for _, d := range localBinDirs() {
		if b, err := probeBinaries(ctx, d, "local"); err == nil {
			return b.export(), nil
		}
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	full, err := fullVersion(o.Version)
	if err != nil {
		return Binaries{}, err
	}
	if dir, err := DownloadedBinDir(o.CacheDir, o.Version); err == nil && isFile(filepath.Join(dir, "postgres")) {
		if b, err := probeBinaries(ctx, dir, "download"); err == nil {
			return b.export(), nil
		}
	}
	return Binaries{Version: full, Source: "download (not yet)"}, nil
}

func (b *binaries) export() Binaries {
	return Binaries{Version: b.version, Dir: b.dir, Source: b.source}
}
