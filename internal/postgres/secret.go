package postgres

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// The superuser's password. The server listens on 127.0.0.1, where every local account can connect, and
// a superuser can run programs as the server's OS account (COPY … TO PROGRAM); so unless devstack.yaml sets
// postgres.password, the password is a random secret generated once per stack and kept in
// Options.PasswordFile (mode 0600, owned by whoever runs devstack). It is set over the unix socket at every
// start, which also replaces the postgres/postgres of data directories made by earlier devstack versions.

// maxSecretFile bounds what is read from a password file.
const maxSecretFile = 4096

// superuserPassword is Options.Password, else the secret in Options.PasswordFile, generated when the file
// does not exist yet.
func superuserPassword(o Options, log *slog.Logger) (string, error) {
	if o.Password != "" {
		return o.Password, nil
	}
	if o.PasswordFile == "" {
		return "", errors.New("no superuser password and no file to keep a generated one in (set postgres.password, or let devstack generate one)")
	}
	pw, err := readSecretFile(o.PasswordFile, log)
	if !errors.Is(err, fs.ErrNotExist) {
		return pw, err
	}
	return createSecretFile(o.PasswordFile)
}

// EnsurePassword is the superuser's password for a server devstack starts elsewhere (a container):
// Options.Password, else the secret in Options.PasswordFile, generated when missing.
func EnsurePassword(o Options, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return superuserPassword(o, log)
}

// ReadPassword is the superuser's password for a client of a running server (the CLI): Options.Password,
// else the secret in Options.PasswordFile, which the server's start created.
func ReadPassword(o Options) (string, error) {
	if o.Password != "" {
		return o.Password, nil
	}
	if o.PasswordFile == "" {
		return "", errors.New("no superuser password and no password file given")
	}
	pw, err := readSecretFile(o.PasswordFile, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("the PostgreSQL superuser secret %s does not exist: devstack creates it when it starts PostgreSQL; start the stack with `devstack up`", o.PasswordFile)
	}
	return pw, err
}

func readSecretFile(path string, log *slog.Logger) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("PostgreSQL superuser secret %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("PostgreSQL superuser secret %s is not a regular file (%s); remove it and devstack generates a new secret at the next start", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read the PostgreSQL superuser secret %s: %w; run devstack as the user who started this stack (the file is private to them)", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("read the PostgreSQL superuser secret %s: %w", path, err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("PostgreSQL superuser secret %s is larger than %d bytes; remove it and devstack generates a new secret at the next start", path, maxSecretFile)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("PostgreSQL superuser secret %s is empty; remove it and devstack generates a new secret at the next start", path)
	}
	if log != nil && fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return "", fmt.Errorf("PostgreSQL superuser secret %s is readable by others (mode %v) and could not be made private: %w", path, fi.Mode().Perm(), err)
		}
		log.Warn("the PostgreSQL superuser secret was readable by others; made it private (0600)", "file", path, "mode_was", fi.Mode().Perm().String())
	}
	return pw, nil
}

// createSecretFile writes a new random secret to path (0600) and returns it. When another devstack
// created the file meanwhile, its secret wins.
func createSecretFile(path string) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generate the PostgreSQL superuser secret: %w", err)
	}
	secret := hex.EncodeToString(raw[:])
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s for the PostgreSQL superuser secret: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".superuser-secret-*") // mode 0600
	if err != nil {
		return "", fmt.Errorf("write the PostgreSQL superuser secret in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(secret + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write the PostgreSQL superuser secret %s: %w", tmp.Name(), err)
	}
	// a link, not a rename: it fails instead of replacing a secret another start wrote meanwhile
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSecretFile(path, nil)
		}
		return "", fmt.Errorf("install the PostgreSQL superuser secret %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return secret, nil
}
