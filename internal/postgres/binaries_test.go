package postgres

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The PostgreSQL installs devstack looks for before downloading one, over a fake file system root:
// Debian's packages, Homebrew's postgresql@N (Apple silicon and Intel prefixes), Postgres.app and
// MacPorts — highest major version first, a bin directory counting only with postgres and initdb in it.
func TestInstallDirs(t *testing.T) {
	root := t.TempDir()
	install := func(dir string, tools ...string) {
		t.Helper()
		for _, tool := range tools {
			p := filepath.Join(root, dir, tool)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	both := []string{"postgres", "initdb"}
	install("usr/lib/postgresql/13/bin", both...)
	install("usr/lib/postgresql/15/bin", both...)
	install("opt/homebrew/opt/postgresql@14/bin", both...)
	install("opt/homebrew/Cellar/postgresql@17/17.2/bin", both...) // opt/postgresql@17 links to it
	if err := os.Symlink("../Cellar/postgresql@17/17.2", filepath.Join(root, "opt/homebrew/opt/postgresql@17")); err != nil {
		t.Fatal(err)
	}
	install("opt/homebrew/opt/libpq/bin", "psql") // the client only: no server
	install("usr/local/opt/postgresql@16/bin", both...)
	install("usr/local/opt/postgresql@12/bin", "postgres") // no initdb: broken
	install("Applications/Postgres.app/Contents/Versions/16/bin", both...)
	install("Applications/Postgres.app/Contents/Versions/9.6/bin", both...)
	if err := os.Symlink("16", filepath.Join(root, "Applications/Postgres.app/Contents/Versions/latest")); err != nil {
		t.Fatal(err)
	}
	install("opt/local/lib/postgresql15/bin", both...)

	var got []string
	for _, d := range installDirs(root) {
		rel, _ := filepath.Rel(root, d)
		got = append(got, rel)
	}
	want := []string{
		"opt/homebrew/opt/postgresql@17/bin",
		"usr/local/opt/postgresql@16/bin",
		"Applications/Postgres.app/Contents/Versions/16/bin",
		"usr/lib/postgresql/15/bin",
		"opt/local/lib/postgresql15/bin",
		"opt/homebrew/opt/postgresql@14/bin",
		"usr/lib/postgresql/13/bin",
		"Applications/Postgres.app/Contents/Versions/9.6/bin",
	}
	if !slices.Equal(got, want) {
		t.Errorf("installDirs =\n  %q\nwant\n  %q", got, want)
	}
}

func TestMajorOfDir(t *testing.T) {
	for dir, want := range map[string]string{
		"/usr/lib/postgresql/15/bin":                           "15",
		"/opt/homebrew/opt/postgresql@16/bin":                  "16",
		"/Applications/Postgres.app/Contents/Versions/9.6/bin": "9.6",
		"/opt/local/lib/postgresql14/bin":                      "14",
		"/opt/homebrew/opt/postgresql/bin":                     "",
	} {
		if got := majorOfDir(dir); got != want {
			t.Errorf("majorOfDir(%q) = %q, want %q", dir, got, want)
		}
	}
}
