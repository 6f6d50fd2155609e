package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `devstack trust --install` on macOS hands the CA to security(1) for the login keychain. There is no
// security tool here: a stand-in on PATH records the arguments it was given.
func TestInstallMacOSRunsSecurity(t *testing.T) {
	bin, home := t.TempDir(), t.TempDir()
	argsFile := filepath.Join(bin, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n"
	if err := os.WriteFile(filepath.Join(bin, "security"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	if err := installMacOS(&out, "/state/gateway/ca.pem", home, "security", 501); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(argsFile)
	keychain := filepath.Join(home, "Library", "Keychains", "login.keychain-db")
	if got, want := strings.Fields(string(b)), []string{"add-trusted-cert", "-r", "trustRoot", "-k", keychain, "/state/gateway/ca.pem"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("security ran with %q, want %q", got, want)
	}
	if !strings.Contains(out.String(), "trusted /state/gateway/ca.pem in "+keychain) {
		t.Errorf("output: %s", out.String())
	}
	// a failing security run is reported with its output
	if err := os.WriteFile(filepath.Join(bin, "security"), []byte("#!/bin/sh\necho 'SecTrustSettingsSetTrustSettings: denied' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := installMacOS(&out, "/ca.pem", home, "security", 501); err == nil || !strings.Contains(err.Error(), "denied") {
		t.Errorf("failing security: err = %v, want its message", err)
	}
	// with sudo it would trust the CA in root's keychain, not the user's
	if err := installMacOS(&out, "/ca.pem", home, "security", 0); err == nil || !strings.Contains(err.Error(), "not with sudo") {
		t.Errorf("as root: err = %v, want a refusal", err)
	}
}
