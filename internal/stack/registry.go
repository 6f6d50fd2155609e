package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/schemareg"
	"github.com/devstack-dev/devstack/internal/schemas"
)

// CompRegistry is the schema registry's component name on the bus (control.Endpoints.Registry reads it).
const CompRegistry = "registry"

// registryComponent runs the schema registry once the broker is up (it keeps its schemas in the broker's
// _schemas topic, whatever the broker's source), then registers registry.subjects before any service
// starts, and again whenever one of their files is saved.
func (s *Stack) registryComponent() Component {
	return Component{Name: CompRegistry, After: []string{CompBroker}, Start: func(ctx context.Context) (*Running, error) {
		spec := registryOptions(s.cfg)
		s.mu.Lock()
		k := s.kafka
		s.mu.Unlock()
		if k == nil {
			return nil, errors.New("the broker is not running")
		}
		sec, err := BrokerSecurity(s.cfg).ClientOpts()
		if err != nil {
			return nil, fmt.Errorf("broker security (broker.external): %w", err)
		}
		log := s.log.With("component", CompRegistry)
		reg, err := schemareg.Start(ctx, schemareg.Options{
			Addr:          spec.addr,
			Kafka:         append([]kgo.Opt{kgo.SeedBrokers(kafkaAddrs(k)...)}, sec...),
			Topic:         spec.topic,
			Compatibility: spec.level,
			Logger:        log,
		})
		if err != nil {
			return nil, err
		}
		sc := &schemasAsCode{
			reg: reg, subjects: spec.subjects, debounce: spec.debounce, log: log,
			notify:     s.bus.Notify,
			logLine:    func(format string, a ...any) { s.systemLog(CompRegistry, format, a...) },
			configPath: s.cfg.Path,
			reload:     s.reloadSubjects,
			refused:    map[string][]string{}, version: map[string]int{},
		}
		// watch before the first registration, so a save while it runs is not missed
		w, err := sc.watcher()
		if err != nil {
			log.Warn("cannot watch the schema files of registry.subjects; a save is registered when devstack restarts", "err", err)
			s.bus.Notify("warn", "registry: cannot watch the schema files of registry.subjects ("+err.Error()+"); a save is registered when devstack restarts")
		}
		sc.registerAll(ctx, spec.subjects)
		if err := ctx.Err(); err != nil {
			if w != nil {
				w.Close()
			}
			reg.Close()
			return nil, context.Cause(ctx)
		}
		sc.report = func() {
			s.updateComponent(CompRegistry, func(c *event.Component) { c.Detail, c.Problems = sc.status() })
		}
		wctx, wcancel := context.WithCancel(context.Background())
		var watching sync.WaitGroup
		if w != nil {
			watching.Go(func() { sc.watch(wctx, w) })
		}
		s.mu.Lock()
		s.reg = reg
		s.mu.Unlock()
		detail, problems := sc.status()
		return &Running{
			Addr:     reg.Addr(),
			Detail:   detail,
			Problems: problems,
			Failed:   reg.Failed(),
			Stop: func() error {
				wcancel()
				watching.Wait()
				return reg.Close()
			},
		}, nil
	}}
}

// reloadSubjects reads registry.subjects from devstack.yaml again, as the running stack sees it (with
// Options.Override). An invalid file is an error, which the gateway's reload of devstack.yaml reports; a
// stack without a gateway reports it here.
func (s *Stack) reloadSubjects() ([]subjectSpec, error) {
	nc, err := config.Load(s.cfg.Path)
	if err != nil {
		if !s.cfg.GatewayEnabled() {
			name := filepath.Base(s.cfg.Path)
			s.bus.Notify("error", name+" changed but is invalid; keeping the running registry.subjects:\n"+err.Error())
			s.systemLog("devstack", "%s changed but is invalid; keeping the running registry.subjects: %v", name, err)
		}
		return nil, err
	}
	if s.opts.Override != nil {
		s.opts.Override(nc)
	}
	return registryOptions(nc).subjects, nil
}

// updateComponent changes the bus's state of a ready component (its detail, its problems) after start.
func (s *Stack) updateComponent(name string, fn func(*event.Component)) {
	c, ok := s.bus.Snapshot().Component(name)
	if !ok || c.Status != event.StatusReady {
		return
	}
	fn(&c)
	s.bus.SetComponent(c)
}

// schemasAsCode registers the schema files of registry.subjects and keeps what the registry refused.
type schemasAsCode struct {
	reg      *schemareg.Registry
	subjects []subjectSpec
	debounce time.Duration
	log      *slog.Logger
	notify   func(level, msg string)
	logLine  func(format string, a ...any)
	report   func() // publishes status() once the component is ready; nil before
	// configPath is devstack.yaml: when it is saved, reload reads its registry.subjects again (an
	// invalid file: an error, reported by the stack's own reload).
	configPath string
	reload     func() ([]subjectSpec, error)

	mu      sync.Mutex
	refused map[string][]string // subject -> why its file was not registered (file:line: subject S: reason)
	version map[string]int      // subject -> the version its file last registered as
}

// status is the component's detail ("3 subjects, 1 refused") and the refusals, subject by subject.
func (sc *schemasAsCode) status() (string, []string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	detail := count(len(sc.subjects), "subject", "subjects")
	var problems []string
	for _, sub := range sc.subjects {
		problems = append(problems, sc.refused[sub.subject]...)
	}
	if n := len(sc.refusedSubjects()); n > 0 {
		detail += fmt.Sprintf(", %d refused", n)
	}
	return detail, problems
}

func (sc *schemasAsCode) refusedSubjects() []string {
	var out []string
	for _, sub := range sc.subjects {
		if len(sc.refused[sub.subject]) > 0 {
			out = append(out, sub.subject)
		}
	}
	return out
}

// registerAll sets each subject's level (when devstack.yaml gives one) and registers its file. A refusal
// is recorded and reported; it stops nothing.
func (sc *schemasAsCode) registerAll(ctx context.Context, subs []subjectSpec) {
	for _, sub := range subs {
		if ctx.Err() != nil {
			return
		}
		if sub.level != "" {
			if err := sc.reg.SetLevel(ctx, sub.subject, sub.level); err != nil {
				if ctx.Err() != nil {
					return
				}
				sc.refuse(sub, []string{fmt.Sprintf("%s: subject %s: cannot set compatibility %s: %v", sub.shown, sub.subject, sub.level, err)})
				continue
			}
		}
		sc.register(ctx, sub)
	}
}

// register registers sub's file as it is now.
func (sc *schemasAsCode) register(ctx context.Context, sub subjectSpec) {
	data, err := os.ReadFile(sub.file)
	if err != nil {
		sc.refuse(sub, []string{fmt.Sprintf("%s: subject %s: cannot read the schema file: %v", sub.shown, sub.subject, unwrapPath(err))})
		return
	}
	schema := schemas.Schema{Type: sub.typ, Text: string(data)}
	// the registry turns a panic of the schema library into an invalid-schema error itself
	id, version, err := sc.reg.Register(ctx, sub.subject, schema, false)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		sc.refuse(sub, refusal(sub, err))
		return
	}
	sc.mu.Lock()
	wasRefused := len(sc.refused[sub.subject]) > 0
	prev, known := sc.version[sub.subject]
	delete(sc.refused, sub.subject)
	sc.version[sub.subject] = version
	sc.mu.Unlock()
	msg := fmt.Sprintf("subject %s: %s registered as version %d (id %d)", sub.subject, sub.shown, version, id)
	switch {
	case !known:
		sc.log.Info("schema registered", "subject", sub.subject, "file", sub.file, "version", version, "id", id)
		sc.logLine("%s", msg)
	case prev != version || wasRefused:
		sc.log.Info("schema registered", "subject", sub.subject, "file", sub.file, "version", version, "id", id)
		sc.logLine("%s", msg)
		sc.notify("info", "registry: "+msg)
	}
	if wasRefused && sc.report != nil {
		sc.report()
	}
}

// refuse records why sub's file was not registered, and says so in the log and as a notification.
func (sc *schemasAsCode) refuse(sub subjectSpec, lines []string) {
	sc.mu.Lock()
	same := slices.Equal(sc.refused[sub.subject], lines)
	sc.refused[sub.subject] = lines
	registered, known := sc.version[sub.subject]
	sc.mu.Unlock()
	keep := "nothing is registered under it yet"
	if known {
		keep = fmt.Sprintf("version %d stays registered", registered)
	}
	for _, l := range lines {
		sc.log.Warn("schema refused", "subject", sub.subject, "file", sub.file, "reason", l)
		sc.logLine("refused: %s", l)
	}
	if !same {
		sc.notify("error", fmt.Sprintf("registry refused %s for subject %s (%s):\n%s", sub.shown, sub.subject, keep, strings.Join(lines, "\n")))
		if sc.report != nil {
			sc.report()
		}
	}
}

// refusal turns the registry's error into lines FILE[:LINE[:COL]]: subject S: reason, one per
// incompatibility the checker found.
func refusal(sub subjectSpec, err error) []string {
	at := func(line, col int) string {
		switch {
		case line > 0 && col > 0:
			return fmt.Sprintf("%s:%d:%d", sub.shown, line, col)
		case line > 0:
			return fmt.Sprintf("%s:%d", sub.shown, line)
		}
		return sub.shown
	}
	var re *schemareg.Error
	if !errors.As(err, &re) {
		return []string{fmt.Sprintf("%s: subject %s: %v", sub.shown, sub.subject, err)}
	}
	switch {
	case len(re.Reasons) > 0:
		out := make([]string, 0, len(re.Reasons))
		for _, r := range re.Reasons {
			out = append(out, fmt.Sprintf("%s: subject %s: incompatible: %s", at(0, 0), sub.subject, r))
		}
		return out
	case re.Code == 42201:
		// the registry's error carries the parser's, which says where
		var pe *schemas.ParseError
		if errors.As(err, &pe) {
			return []string{fmt.Sprintf("%s: subject %s: invalid %s schema: %s", at(pe.Line, pe.Col), sub.subject, sub.typ, pe.Msg)}
		}
	}
	return []string{fmt.Sprintf("%s: subject %s: %s (error %d)", at(0, 0), sub.subject, re.Message, re.Code)}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// watcher watches the directories of the subject files (editors replace a file on save).
func (sc *schemasAsCode) watcher() (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := sc.watchDirs(w, sc.subjects); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// watchDirs adds the directories of subs' files, and of devstack.yaml, to w (adding one twice is fine).
func (sc *schemasAsCode) watchDirs(w *fsnotify.Watcher, subs []subjectSpec) error {
	dirs := map[string]bool{}
	if sc.configPath != "" {
		dirs[filepath.Dir(sc.configPath)] = true
	}
	for _, sub := range subs {
		dirs[filepath.Dir(sub.file)] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			return fmt.Errorf("watch %s: %w", d, err)
		}
	}
	return nil
}

// setSubjects applies registry.subjects read again from a saved devstack.yaml: new subjects, and those
// whose file, type or level changed, are registered (their level set first); a subject no longer listed
// is no longer watched, and stays registered.
func (sc *schemasAsCode) setSubjects(ctx context.Context, w *fsnotify.Watcher, subs []subjectSpec) {
	old := map[string]subjectSpec{}
	for _, sub := range sc.subjects {
		old[sub.subject] = sub
	}
	var changed []subjectSpec
	var added, updated, removed []string
	now := map[string]bool{}
	for _, sub := range subs {
		now[sub.subject] = true
		switch o, ok := old[sub.subject]; {
		case !ok:
			added = append(added, sub.subject)
			changed = append(changed, sub)
		case o != sub:
			updated = append(updated, sub.subject)
			changed = append(changed, sub)
		}
	}
	for _, sub := range sc.subjects {
		if !now[sub.subject] {
			removed = append(removed, sub.subject)
		}
	}
	if len(changed) == 0 && len(removed) == 0 {
		return
	}
	sc.mu.Lock()
	sc.subjects = subs
	for _, r := range removed {
		delete(sc.refused, r)
	}
	sc.mu.Unlock()
	if err := sc.watchDirs(w, subs); err != nil {
		sc.log.Warn("watch schema files", "err", err)
	}
	var parts []string
	for _, p := range []struct {
		what string
		subs []string
	}{{"added", added}, {"changed", updated}, {"no longer listed (still registered)", removed}} {
		if len(p.subs) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.subs, ", "))
		}
	}
	msg := "registry.subjects reloaded from " + filepath.Base(sc.configPath) + ": " + strings.Join(parts, "; ")
	sc.log.Info(msg)
	sc.logLine("%s", msg)
	sc.notify("info", msg)
	sc.registerAll(ctx, changed)
	if sc.report != nil {
		sc.report()
	}
}

// watch registers a subject's file again once it has been quiet for the debounce period after a change;
// it closes w.
func (sc *schemasAsCode) watch(ctx context.Context, w *fsnotify.Watcher) {
	defer w.Close()
	byFile := map[string][]subjectSpec{}
	for _, sub := range sc.subjects {
		byFile[sub.file] = append(byFile[sub.file], sub)
	}
	pending := map[string]bool{}
	configSaved := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) == 0 {
				continue
			}
			switch _, ours := byFile[ev.Name]; {
			case ours:
				pending[ev.Name] = true
			case ev.Name == sc.configPath && sc.reload != nil:
				configSaved = true
			default:
				continue
			}
			timer.Reset(sc.debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			sc.log.Warn("watch schema files", "err", err)
		case <-timer.C:
			if configSaved {
				configSaved = false
				if subs, err := sc.reload(); err == nil {
					sc.setSubjects(ctx, w, subs)
					byFile = map[string][]subjectSpec{}
					for _, sub := range subs {
						byFile[sub.file] = append(byFile[sub.file], sub)
					}
				}
			}
			files := make([]string, 0, len(pending))
			for f := range pending {
				files = append(files, f)
			}
			clear(pending)
			slices.Sort(files)
			for _, f := range files {
				if _, err := os.Stat(f); err != nil {
					continue // renamed away; its replacement's Create follows
				}
				for _, sub := range byFile[f] {
					sc.register(ctx, sub)
				}
			}
		}
	}
}
