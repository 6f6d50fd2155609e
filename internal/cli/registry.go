package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aymanbagabas/go-udiff"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/devstack-dev/devstack/internal/schemas"
	"github.com/devstack-dev/devstack/internal/serde"
)

func init() { register(newRegistryCmd) }

// registryFlags is --registry, shared by the commands that talk to the schema registry.
type registryFlags struct{ url string }

func (f *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "registry", "", "schema registry URL (default: the registry of the stack running for this devstack.yaml)")
}

// registryURL is --registry, else the registry the stack of this directory reports through its control
// API.
func (f *registryFlags) registryURL(ctx context.Context, app *App) (string, error) {
	if f.url != "" {
		u, err := url.Parse(f.url)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", fmt.Errorf("--registry %q: want a URL like http://127.0.0.1:8081", f.url)
		}
		return strings.TrimRight(f.url, "/"), nil
	}
	ep, err := app.endpointsOr(ctx, "--registry URL")
	if err != nil {
		return "", err
	}
	if ep.Registry == "" {
		return "", fmt.Errorf("the stack %s (state in %s) runs no schema registry (registry.enabled: false, or it is not ready yet); pass --registry URL to reach another one", ep.Name, ep.StateDir)
	}
	return "http://" + ep.Registry, nil
}

// client returns a registry client (nil, nil never).
func (f *registryFlags) client(ctx context.Context, app *App) (*serde.Registry, error) {
	u, err := f.registryURL(ctx, app)
	if err != nil {
		return nil, err
	}
	return serde.NewRegistry(u)
}

// registryErr makes a registry error one line that says what to do.
func registryErr(reg *serde.Registry, err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return fmt.Errorf("no schema registry answers at %s: is `devstack up` running? (or pass --registry URL): %v", reg.URL, err)
	}
	switch serde.ErrorCode(err) {
	case 40401:
		return fmt.Errorf("%v (%s): `devstack registry subjects` lists the subjects", err, reg.URL)
	case 40402:
		return fmt.Errorf("%v (%s): `devstack registry show SUBJECT` shows the latest version", err, reg.URL)
	}
	return fmt.Errorf("schema registry %s: %w", reg.URL, err)
}

func newRegistryCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "The schema registry: list subjects, show and diff versions, check a file, compatibility levels",
		Long: "Talk to the stack's schema registry (Confluent's REST API; --registry URL for another one).\n" +
			"Records written with it are decoded by `devstack consume` and encoded by `devstack produce\n" +
			"--value-subject`.",
	}
	cmd.AddCommand(newRegistrySubjectsCmd(app), newRegistryShowCmd(app), newRegistryDiffCmd(app),
		newRegistryCheckCmd(app), newRegistryLevelCmd(app))
	return cmd
}

type subjectRow struct {
	Subject string       `json:"subject"`
	Version int          `json:"version"`
	ID      int          `json:"id"`
	Type    schemas.Type `json:"type"`
	Deleted bool         `json:"deleted,omitempty"`
}

func newRegistrySubjectsCmd(app *App) *cobra.Command {
	var (
		rf      registryFlags
		deleted bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "subjects",
		Short: "List the subjects with their latest version, type and id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reg, err := rf.client(ctx, app)
			if err != nil {
				return err
			}
			live, err := reg.Client.Subjects(ctx)
			if err != nil {
				return registryErr(reg, err)
			}
			names := live
			isLive := map[string]bool{}
			for _, s := range live {
				isLive[s] = true
			}
			if deleted {
				if names, err = reg.Client.Subjects(sr.WithParams(ctx, sr.ShowDeleted)); err != nil {
					return registryErr(reg, err)
				}
			}
			sort.Strings(names)
			rows := []subjectRow{}
			for _, s := range names {
				sctx := ctx
				if !isLive[s] {
					sctx = sr.WithParams(ctx, sr.ShowDeleted)
				}
				ss, err := reg.Client.SchemaByVersion(sctx, s, -1)
				if err != nil {
					return registryErr(reg, err)
				}
				t, _ := schemas.ParseType(ss.Type.String())
				rows = append(rows, subjectRow{Subject: s, Version: ss.Version, ID: ss.ID, Type: t, Deleted: !isLive[s]})
			}
			if asJSON {
				return writeJSON(app, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(app.Stdout, "no subjects at %s\n", reg.URL)
				return nil
			}
			tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBJECT\tVERSION\tTYPE\tID")
			for _, r := range rows {
				name := r.Subject
				if r.Deleted {
					name += " (deleted)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", name, r.Version, r.Type, r.ID)
			}
			return tw.Flush()
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVar(&deleted, "deleted", false, "include soft-deleted subjects")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the subjects as JSON")
	return cmd
}

// parseVersion reads a version argument: a number or "latest" (-1).
func parseVersion(s string) (int, error) {
	if s == "" || strings.EqualFold(s, "latest") {
		return -1, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("version %q: want a number from 1, or latest", s)
	}
	return v, nil
}

// prettySchema indents AVRO and JSON schemas (their text is JSON); PROTOBUF is shown as it is.
func prettySchema(text string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(strings.TrimSpace(text)), "", "  ") == nil {
		return b.String() + "\n"
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return text
}

func fetchVersion(ctx context.Context, reg *serde.Registry, subject, version string) (sr.SubjectSchema, error) {
	v, err := parseVersion(version)
	if err != nil {
		return sr.SubjectSchema{}, err
	}
	ss, err := reg.Client.SchemaByVersion(ctx, subject, v)
	if err != nil {
		switch serde.ErrorCode(err) {
		case 40401:
			return ss, fmt.Errorf("subject %q is not registered at %s: `devstack registry subjects` lists them", subject, reg.URL)
		case 40402:
			return ss, fmt.Errorf("subject %q has no version %s at %s: `devstack registry show %s` shows the latest", subject, version, reg.URL, subject)
		}
		return ss, registryErr(reg, err)
	}
	if ss.Subject == "" {
		ss.Subject = subject
	}
	return ss, nil
}

func typeOf(ss sr.SubjectSchema) schemas.Type {
	t, _ := schemas.ParseType(ss.Type.String())
	return t
}

func newRegistryShowCmd(app *App) *cobra.Command {
	var (
		rf     registryFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show SUBJECT [VERSION]",
		Short: "Print a version of a subject (default the latest): id, version, type, references and the schema",
		Example: "  devstack registry show orders.placed-value\n" +
			"  devstack registry show orders.placed-value 1",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			reg, err := rf.client(ctx, app)
			if err != nil {
				return err
			}
			version := ""
			if len(args) == 2 {
				version = args[1]
			}
			ss, err := fetchVersion(ctx, reg, args[0], version)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(app, struct {
					Subject    string               `json:"subject"`
					Version    int                  `json:"version"`
					ID         int                  `json:"id"`
					Type       schemas.Type         `json:"type"`
					References []sr.SchemaReference `json:"references,omitempty"`
					Schema     string               `json:"schema"`
				}{ss.Subject, ss.Version, ss.ID, typeOf(ss), ss.References, ss.Schema.Schema})
			}
			p := painter{on: useColor(app.Stdout)}
			fmt.Fprintf(app.Stdout, "%s  version %d  id %d  %s\n", p.color(36, ss.Subject), ss.Version, ss.ID, typeOf(ss))
			for _, r := range ss.References {
				fmt.Fprintf(app.Stdout, "  reference %s: %s version %d\n", r.Name, r.Subject, r.Version)
			}
			fmt.Fprint(app.Stdout, prettySchema(ss.Schema.Schema))
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}

func newRegistryDiffCmd(app *App) *cobra.Command {
	var rf registryFlags
	cmd := &cobra.Command{
		Use:     "diff SUBJECT V1 V2",
		Short:   "Show how two versions of a subject differ (a unified diff of the pretty-printed schemas)",
		Example: "  devstack registry diff orders.placed-value 1 latest",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			reg, err := rf.client(ctx, app)
			if err != nil {
				return err
			}
			a, err := fetchVersion(ctx, reg, args[0], args[1])
			if err != nil {
				return err
			}
			b, err := fetchVersion(ctx, reg, args[0], args[2])
			if err != nil {
				return err
			}
			label := func(ss sr.SubjectSchema) string {
				return fmt.Sprintf("%s version %d (id %d, %s)", ss.Subject, ss.Version, ss.ID, typeOf(ss))
			}
			d := udiff.Unified(label(a), label(b), prettySchema(a.Schema.Schema), prettySchema(b.Schema.Schema))
			if d == "" {
				fmt.Fprintf(app.Stdout, "%s versions %d and %d are the same schema (id %d)\n", args[0], a.Version, b.Version, a.ID)
				return nil
			}
			fmt.Fprint(app.Stdout, d)
			return nil
		},
	}
	rf.add(cmd)
	return cmd
}

// schemaTypeOfFile names a schema file's type by its extension.
func schemaTypeOfFile(path string) (schemas.Type, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".avsc", ".avro":
		return schemas.Avro, nil
	case ".json":
		return schemas.JSON, nil
	case ".proto":
		return schemas.Protobuf, nil
	}
	return "", fmt.Errorf("%s: cannot tell the schema type from the extension (.avsc AVRO, .json JSON, .proto PROTOBUF): pass --type", path)
}

func newRegistryCheckCmd(app *App) *cobra.Command {
	var (
		rf     registryFlags
		typ    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "check SUBJECT FILE",
		Short: "Check a local schema file against a subject under its compatibility level (exit 1 when incompatible)",
		Long: "Ask the registry whether FILE could be registered as SUBJECT's next version under the subject's\n" +
			"compatibility level (POST /compatibility/subjects/SUBJECT/versions/latest?verbose=true). Exits 1\n" +
			"with the reasons when it could not. The type comes from the extension: .avsc AVRO, .json JSON,\n" +
			".proto PROTOBUF.",
		Example: "  devstack registry check orders.placed-value sample-services/schemas/orders.placed.avsc",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject, file := args[0], args[1]
			var t schemas.Type
			var err error
			if typ != "" {
				t, err = schemas.ParseType(typ)
			} else {
				t, err = schemaTypeOfFile(file)
			}
			if err != nil {
				return err
			}
			text, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read the schema: %w", err)
			}
			ctx := cmd.Context()
			reg, err := rf.client(ctx, app)
			if err != nil {
				return err
			}
			var st sr.SchemaType
			if err := st.UnmarshalText([]byte(t)); err != nil {
				return err
			}
			res, err := reg.Client.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -1, sr.Schema{Schema: string(text), Type: st})
			type verdict struct {
				Subject    string   `json:"subject"`
				File       string   `json:"file"`
				Compatible bool     `json:"compatible"`
				New        bool     `json:"new_subject,omitempty"`
				Messages   []string `json:"messages,omitempty"`
			}
			v := verdict{Subject: subject, File: file}
			switch code := serde.ErrorCode(err); {
			case err == nil:
				v.Compatible, v.Messages = res.Is, res.Messages
			case code == 40401 || code == 40402:
				v.Compatible, v.New = true, true
			case code == 42201 || code == 422:
				return fmt.Errorf("%s is not a valid %s schema: %v", file, t, err)
			default:
				return registryErr(reg, err)
			}
			if asJSON {
				if err := writeJSON(app, v); err != nil {
					return err
				}
			} else {
				switch {
				case v.New:
					fmt.Fprintf(app.Stdout, "%s is not registered yet: %s would be its version 1\n", subject, file)
				case v.Compatible:
					fmt.Fprintf(app.Stdout, "%s is compatible with %s\n", file, subject)
				default:
					fmt.Fprintf(app.Stdout, "%s is NOT compatible with %s:\n", file, subject)
					for _, m := range v.Messages {
						fmt.Fprintf(app.Stdout, "  - %s\n", m)
					}
				}
			}
			if !v.Compatible {
				return ExitCode(1)
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&typ, "type", "", "schema type AVRO, JSON or PROTOBUF (default: from FILE's extension)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verdict as JSON")
	return cmd
}

func newRegistryLevelCmd(app *App) *cobra.Command {
	var (
		rf     registryFlags
		asJSON bool
		reset  bool
	)
	cmd := &cobra.Command{
		Use:   "level [SUBJECT] [LEVEL]",
		Short: "Show or set a compatibility level (the global one without SUBJECT)",
		Long: "Without LEVEL, print the compatibility level of SUBJECT (the global level when the subject has\n" +
			"none of its own) or, without SUBJECT, the global level. With LEVEL, set it. Levels: NONE,\n" +
			"BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE. Use `-` as\n" +
			"SUBJECT for the global level.",
		Example: "  devstack registry level                       # the global level\n" +
			"  devstack registry level - FULL                # set the global level\n" +
			"  devstack registry level orders.placed-value   # the subject's level\n" +
			"  devstack registry level orders.placed-value NONE\n" +
			"  devstack registry level orders.placed-value --reset",
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := ""
			if len(args) > 0 && args[0] != "-" {
				subject = args[0]
			}
			var level schemas.Level
			if len(args) == 2 {
				if reset {
					return errors.New("--reset and LEVEL exclude each other")
				}
				l, err := schemas.ParseLevel(args[1])
				if err != nil {
					return err
				}
				level = l
			}
			if reset && subject == "" {
				return errors.New("--reset needs a SUBJECT: it drops the subject's own level so the global one applies")
			}
			ctx := cmd.Context()
			reg, err := rf.client(ctx, app)
			if err != nil {
				return err
			}
			where := "global"
			if subject != "" {
				where = subject
			}
			type out struct {
				Subject string `json:"subject,omitempty"`
				Level   string `json:"level"`
				Global  bool   `json:"global,omitempty"`
			}
			var o out
			switch {
			case reset:
				r := reg.Client.ResetCompatibility(ctx, subject)[0]
				if r.Err != nil {
					return registryErr(reg, r.Err)
				}
				g := reg.Client.Compatibility(ctx)[0]
				if g.Err != nil {
					return registryErr(reg, g.Err)
				}
				o = out{Subject: subject, Level: g.Level.String(), Global: true}
			case level != "":
				var cl sr.CompatibilityLevel
				if err := cl.UnmarshalText([]byte(level)); err != nil {
					return err
				}
				r := reg.Client.SetCompatibility(ctx, sr.SetCompatibility{Level: cl}, subject)[0]
				if r.Err != nil {
					return registryErr(reg, r.Err)
				}
				o = out{Subject: subject, Level: r.Level.String()}
			default:
				r := reg.Client.Compatibility(ctx, subject)[0]
				if r.Err != nil && subject != "" && serde.ErrorCode(r.Err) == 40408 {
					r = reg.Client.Compatibility(ctx)[0]
					o.Global = true
				}
				if r.Err != nil {
					return registryErr(reg, r.Err)
				}
				o.Subject, o.Level = subject, r.Level.String()
			}
			if asJSON {
				return writeJSON(app, o)
			}
			switch {
			case reset:
				fmt.Fprintf(app.Stdout, "%s: own level dropped; the global level %s applies\n", where, o.Level)
			case level != "":
				fmt.Fprintf(app.Stdout, "%s: %s\n", where, o.Level)
			case o.Global && subject != "":
				fmt.Fprintf(app.Stdout, "%s: %s (the global level; the subject has none of its own)\n", where, o.Level)
			default:
				fmt.Fprintf(app.Stdout, "%s: %s\n", where, o.Level)
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the level as JSON")
	cmd.Flags().BoolVar(&reset, "reset", false, "drop SUBJECT's own level (the global one applies)")
	return cmd
}
