package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/proxy"
)

func init() { register(newTokenCmd) }

func newTokenCmd(app *App) *cobra.Command {
	var sub, scope, aud, iss string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a JWT signed by the stack's development issuer",
		Long: `Print an access token signed with the gateway's development issuer key
(<state_dir>/gateway/issuer-key.pem, created if missing, so this works before ` + "`devstack up`" + `).
The gateway accepts it on routes with auth: required; services receive the subject and scopes as
X-Auth-Subject and X-Auth-Scopes.

  curl -H "Authorization: Bearer $(devstack token --sub alice --scope 'orders:read')" http://127.0.0.1:8080/api/orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			a := cfg.Gateway.Auth
			if iss == "" {
				iss = a.Issuer
			}
			if aud == "" {
				aud = a.Audience
			}
			if !cmd.Flags().Changed("ttl") && a.DevIssuer.TokenTTL > 0 {
				ttl = a.DevIssuer.TokenTTL.D()
			}
			if ttl <= 0 {
				return fmt.Errorf("--ttl must be positive, got %s", ttl)
			}
			tok, err := proxy.IssueToken(cfg.StateDirPath(), iss, aud, sub, strings.Fields(scope), ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(app.Stdout, tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&sub, "sub", "dev", "subject (sub claim), e.g. a user id")
	cmd.Flags().StringVar(&scope, "scope", "", `space-separated scopes, e.g. "orders:read orders:write"`)
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime (default: gateway.auth.dev_issuer.token_ttl, else 1h)")
	cmd.Flags().StringVar(&aud, "aud", "", "audience (default: gateway.auth.audience, else devstack)")
	cmd.Flags().StringVar(&iss, "iss", "", "issuer (default: gateway.auth.issuer, else devstack); the gateway rejects any other")
	return cmd
}
