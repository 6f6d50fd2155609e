package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/proxy"
)

func init() { register(newTrustCmd) }

// debianCADir is where update-ca-certificates picks up local CAs.
var debianCADir = "/usr/local/share/ca-certificates"

func newTrustCmd(app *App) *cobra.Command {
	var install bool
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Show where the gateway's development CA is and how to trust it",
		Long: `The HTTPS listener of the gateway uses a certificate from a local development CA that devstack
generates once and keeps in <state_dir>/gateway/ca.pem. This command prints the commands that make
your system, browsers and tools trust it. It changes nothing unless --install is given (Debian/Ubuntu,
as root: copies the CA to ` + debianCADir + ` and runs update-ca-certificates; macOS, as yourself: adds
it to your login keychain as trusted, macOS asking for your password).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			caPath, err := proxy.EnsureCA(cfg.StateDirPath())
			if err != nil {
				return err
			}
			fp, err := proxy.CAFingerprint(caPath)
			if err != nil {
				return err
			}
			name := "devstack-" + strings.ReplaceAll(fp, ":", "")[:12] + ".crt"
			if install && runtime.GOOS == "darwin" {
				home, err := os.UserHomeDir()
				if err != nil {
					return err
				}
				return installMacOS(app.Stdout, caPath, home, "security", os.Geteuid())
			}
			if install {
				return installDebian(app.Stdout, caPath, name)
			}
			printTrust(app.Stdout, caPath, name, fp, cfg.Gateway.HTTPSPort)
			return nil
		},
	}
	cmd.Flags().BoolVar(&install, "install", false, "add the CA to the system trust store (Debian/Ubuntu, needs root) or your login keychain (macOS)")
	return cmd
}

func printTrust(w io.Writer, caPath, name, fp string, port int) {
	if port == 0 {
		port = 8443
	}
	url := fmt.Sprintf("https://localhost:%d/", port)
	fmt.Fprintf(w, `devstack development CA
  certificate: %s
  SHA-256:     %s
  The CA is kept across runs; its key never leaves the state directory. Trust it only on this machine.

System trust store
  Debian/Ubuntu:  sudo cp %s %s/%s && sudo update-ca-certificates
                  (or: sudo devstack trust --install)
  Fedora/RHEL:    sudo cp %s /etc/pki/ca-trust/source/anchors/%s && sudo update-ca-trust
  macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain %s
                  (or, for your user only: devstack trust --install)

Browsers
  Chrome/Edge use the system store (on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n devstack -i %s).
  Firefox keeps its own store: Settings > Privacy & Security > Certificates > View Certificates >
  Authorities > Import... and pick %s (tick "trust this CA to identify websites"),
  or set security.enterprise_roots.enabled=true in about:config to use the system store.

Tools, without touching the system
  curl:     curl --cacert %s %s
  Node.js:  export NODE_EXTRA_CA_CERTS=%s
  Python:   export REQUESTS_CA_BUNDLE=%s   (requests)
            export SSL_CERT_FILE=%s        (httpx, urllib, aiohttp)
  Go:       export SSL_CERT_FILE=%s
`, caPath, fp, caPath, debianCADir, name, caPath, name, caPath, caPath, caPath, caPath, url, caPath, caPath, caPath, caPath)
}

// installMacOS adds the CA to the user's login keychain as a trusted root with the security tool (no
// root needed: macOS asks for the user's password to change trust settings).
func installMacOS(w io.Writer, caPath, home, security string, euid int) error {
	if euid == 0 {
		return errors.New("on macOS run `devstack trust --install` as yourself, not with sudo: it trusts the CA in your login keychain")
	}
	tool, err := exec.LookPath(security)
	if err != nil {
		return fmt.Errorf("%s not found (it comes with macOS): %w; run the commands `devstack trust` prints", security, err)
	}
	keychain := filepath.Join(home, "Library", "Keychains", "login.keychain-db")
	cmd := exec.Command(tool, "add-trusted-cert", "-r", "trustRoot", "-k", keychain, caPath)
	cmd.Stdin = os.Stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("security add-trusted-cert: %w\n%s", err, out)
	}
	fmt.Fprintf(w, "trusted %s in %s\n", caPath, keychain)
	fmt.Fprintln(w, "Firefox keeps its own store: see `devstack trust` for how to import the CA there.")
	return nil
}

func installDebian(w io.Writer, caPath, name string) error {
	if runtime.GOOS != "linux" {
		return errors.New("--install supports Debian/Ubuntu and macOS only; run the commands `devstack trust` prints")
	}
	if os.Geteuid() != 0 {
		return errors.New("--install needs root: run `sudo devstack trust --install`, or the commands `devstack trust` prints")
	}
	tool, err := exec.LookPath("update-ca-certificates")
	if err != nil {
		return errors.New("update-ca-certificates not found (not Debian/Ubuntu?): install the ca-certificates package or follow `devstack trust`")
	}
	if st, err := os.Stat(debianCADir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s does not exist: is this Debian/Ubuntu with ca-certificates installed?", debianCADir)
	}
	b, err := os.ReadFile(caPath)
	if err != nil {
		return err
	}
	dst := filepath.Join(debianCADir, name)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("install CA: %w", err)
	}
	out, err := exec.Command(tool).CombinedOutput()
	if err != nil {
		return fmt.Errorf("update-ca-certificates: %w\n%s", err, out)
	}
	fmt.Fprintf(w, "installed %s\n%s", dst, out)
	fmt.Fprintln(w, "Firefox keeps its own store: see `devstack trust` for how to import the CA there.")
	return nil
}
