package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/devstack-dev/devstack/internal/event"
)

// ErrNoBroker means nothing answered at the bootstrap address.
var ErrNoBroker = errors.New("no broker")

// rateWindow is how far back Admin looks when it turns offset samples into msgs/s.
const rateWindow = 10 * time.Second

// Admin inspects and steers any Kafka cluster by its bootstrap addresses: the embedded broker or a
// real one. It never joins a consumer group (except ConsumeGroup, which exists to do exactly that).
type Admin struct {
	addrs []string
	sec   []kgo.Opt // SASL and TLS of every client the admin makes
	log   *slog.Logger
	cl    *kgo.Client // admin requests and Produce
	adm   *kadm.Client
	// obs is the embedded broker's traffic observer (records and bytes out); nil for a real cluster.
	obs *observer

	mu      sync.Mutex
	samples map[string][]sample // topic -> end-offset sums, oldest first
	commits map[string][]sample // group + "\x00" + topic -> that group's committed-offset sum
}

type sample struct {
	at time.Time
	n  int64
}

// NewAdmin creates an admin client for the plaintext cluster at addrs. It does not connect until first
// used; call Ping to check something answers.
func NewAdmin(addrs []string, logger *slog.Logger) (*Admin, error) {
	return NewSecureAdmin(addrs, Security{}, logger)
}

// NewSecureAdmin creates an admin client for the cluster at addrs reached with sec (SASL, TLS). Every
// client it makes (consumers, taps) uses sec too.
func NewSecureAdmin(addrs []string, sec Security, logger *slog.Logger) (*Admin, error) {
	if len(addrs) == 0 {
		return nil, errors.New("broker admin: no bootstrap address")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	secOpts, err := sec.ClientOpts()
	if err != nil {
		return nil, fmt.Errorf("broker admin: %w", err)
	}
	cl, err := kgo.NewClient(append(clientOpts(addrs, secOpts, logger),
		// Producing to an unknown topic creates it when the cluster allows auto-creation, as kcat does.
		kgo.AllowAutoTopicCreation(),
		kgo.ClientID("devstack-admin"),
		// Records typed in by a human are small; and consumers such as kafkajs cannot read snappy, franz-go's
		// default. Uncompressed is readable by every client.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("broker admin: %w", err)
	}
	return &Admin{
		addrs:   addrs,
		sec:     secOpts,
		log:     logger,
		cl:      cl,
		adm:     kadm.NewClient(cl),
		samples: make(map[string][]sample),
		commits: make(map[string][]sample),
	}, nil
}

func clientOpts(addrs []string, sec []kgo.Opt, logger *slog.Logger) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.WithLogger(kgoLogger{logger}),
		kgo.DialTimeout(5 * time.Second),
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, sec...)
}

// clientOpts are the options of every client the admin makes.
func (a *Admin) clientOpts() []kgo.Opt { return clientOpts(a.addrs, a.sec, a.log) }

// Close releases the admin's connections.
func (a *Admin) Close() { a.cl.Close() }

// Addrs returns the bootstrap addresses.
func (a *Admin) Addrs() []string { return a.addrs }

// Ping checks that a broker answers; the error wraps ErrNoBroker when none does.
func (a *Admin) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.cl.Ping(ctx); err != nil {
		return fmt.Errorf("%w at %s: %v", ErrNoBroker, strings.Join(a.addrs, ","), err)
	}
	return nil
}

// EnsureTopics creates missing topics, adds partitions where a topic has fewer than declared, and sets
// declared configs that differ. It never removes partitions or configs.
func (a *Admin) EnsureTopics(ctx context.Context, ts []TopicSpec) error {
	if len(ts) == 0 {
		return nil
	}
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		if err := ValidateTopicName(t.Name); err != nil {
			return err
		}
		names = append(names, t.Name)
	}
	// Looked up with a client that never auto-creates: the admin's own one (which may, for Produce) would
	// make a real Kafka with auto.create.topics.enable create each missing topic with its default partition
	// count just by asking about it.
	lookup, err := kgo.NewClient(a.clientOpts()...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	defer lookup.Close()
	existing, err := kadm.NewClient(lookup).ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var errs []error
	for _, t := range ts {
		d, ok := existing[t.Name]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			if err := a.CreateTopic(ctx, t); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				errs = append(errs, err)
			}
			continue
		}
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", t.Name, d.Err))
			continue
		}
		want := max(t.Partitions, 1)
		if have := len(d.Partitions); have < want {
			resp, err := a.adm.UpdatePartitions(ctx, want, t.Name)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("topic %s: grow to %d partitions: %w", t.Name, want, err))
			} else {
				a.log.Info("topic partitions increased", "topic", t.Name, "from", have, "to", want)
			}
		} else if have > want {
			a.log.Warn("topic has more partitions than declared; Kafka cannot remove partitions (delete the topic to shrink it)",
				"topic", t.Name, "have", have, "declared", want)
		}
		if err := a.syncConfigs(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *Admin) syncConfigs(ctx context.Context, t TopicSpec) error {
	if len(t.Configs) == 0 {
		return nil
	}
	rcs, err := a.adm.DescribeTopicConfigs(ctx, t.Name)
	if err != nil {
		return fmt.Errorf("topic %s: describe configs: %w", t.Name, err)
	}
	have := map[string]string{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Value != nil {
				have[c.Key] = *c.Value
			}
		}
	}
	var alter []kadm.AlterConfig
	for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
		v := t.Configs[k]
		if cur, ok := have[k]; ok && cur == v {
			continue
		}
		alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	if len(alter) == 0 {
		return nil
	}
	resp, err := a.adm.AlterTopicConfigs(ctx, alter, t.Name)
	if err == nil {
		for _, r := range resp {
			if r.Err != nil {
				err = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("topic %s: set configs: %w", t.Name, err)
	}
	a.log.Info("topic configs updated", "topic", t.Name, "configs", len(alter))
	return nil
}

// CreateTopic creates one topic; it fails if the topic exists.
func (a *Admin) CreateTopic(ctx context.Context, t TopicSpec) error {
	if err := ValidateTopicName(t.Name); err != nil {
		return err
	}
	var cfgs map[string]*string
	if len(t.Configs) > 0 {
		cfgs = make(map[string]*string, len(t.Configs))
		for k, v := range t.Configs {
			cfgs[k] = &v
		}
	}
	resp, err := a.adm.CreateTopic(ctx, int32(max(t.Partitions, 1)), -1, cfgs, t.Name)
	if err != nil {
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("topic %s already exists: %w", t.Name, err)
		}
		msg := ""
		if resp.ErrMessage != "" {
			msg = " (" + resp.ErrMessage + ")"
		}
		return fmt.Errorf("create topic %s: %w%s", t.Name, err, msg)
	}
	a.log.Info("topic created", "topic", t.Name, "partitions", max(t.Partitions, 1))
	return nil
}

// DeleteTopic deletes a topic and its records.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	resp, err := a.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %s does not exist: %w", name, err)
		}
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	a.mu.Lock()
	delete(a.samples, name)
	for k := range a.commits {
		if strings.HasSuffix(k, "\x00"+name) {
			delete(a.commits, k)
		}
	}
	a.mu.Unlock()
	return nil
}

// Topics lists every topic with partition offsets, record counts, non-default configs and rates.
// RateIn and RateOut come from samples Admin keeps across calls: the first call reports zero.
func (a *Admin) Topics(ctx context.Context) ([]event.TopicInfo, error) {
	out, err := a.topicOffsets(ctx)
	if err != nil || len(out) == 0 {
		return out, err
	}
	names := make([]string, len(out))
	for i, t := range out {
		names[i] = t.Name
	}
	configs := map[string]map[string]string{}
	if rcs, err := a.adm.DescribeTopicConfigs(ctx, names...); err == nil {
		for _, rc := range rcs {
			for _, c := range rc.Configs {
				if c.Value != nil && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
					if configs[rc.Name] == nil {
						configs[rc.Name] = map[string]string{}
					}
					configs[rc.Name][c.Key] = *c.Value
				}
			}
		}
	} else {
		a.log.Debug("describe topic configs", "err", err)
	}
	committed := a.committedByTopic(ctx)

	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range out {
		ti := &out[i]
		ti.Configs = configs[ti.Name]
		var endSum int64
		for _, p := range ti.Partitions {
			endSum += p.EndOffset
		}
		ti.RateIn = addSample(a.samples, ti.Name, now, endSum)
		for g, c := range committed[ti.Name] {
			ti.RateOut += addSample(a.commits, g+"\x00"+ti.Name, now, c)
		}
	}
	return out, nil
}

// topicOffsets lists every topic with its partitions' start and end offsets and its record count: Topics
// without configs and rates (what a metrics scrape needs; it takes no rate sample).
func (a *Admin) topicOffsets(ctx context.Context) ([]event.TopicInfo, error) {
	details, err := a.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	names := details.Names()
	if len(names) == 0 {
		return []event.TopicInfo{}, nil
	}
	starts, err := a.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := a.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := make([]event.TopicInfo, 0, len(names))
	for _, name := range names {
		d := details[name]
		if d.Err != nil {
			continue
		}
		ti := event.TopicInfo{Name: name, Internal: d.IsInternal}
		for _, p := range slices.Sorted(maps.Keys(d.Partitions)) {
			pi := event.PartitionInfo{Partition: p}
			if s, ok := starts.Lookup(name, p); ok && s.Err == nil {
				pi.StartOffset = s.Offset
			}
			if e, ok := ends.Lookup(name, p); ok && e.Err == nil {
				pi.EndOffset = e.Offset
			}
			ti.Messages += max(pi.EndOffset-pi.StartOffset, 0)
			ti.Partitions = append(ti.Partitions, pi)
		}
		out = append(out, ti)
	}
	return out, nil
}

// addSample records n for topic at now, drops samples older than the window (keeping one so a rate
// over a slightly longer span is still possible) and returns the rate over what is left.
func addSample(m map[string][]sample, topic string, now time.Time, n int64) float64 {
	ss := append(m[topic], sample{now, n})
	for len(ss) > 2 && now.Sub(ss[1].at) >= rateWindow {
		ss = ss[1:]
	}
	m[topic] = ss
	first := ss[0]
	dt := now.Sub(first.at).Seconds()
	if len(ss) < 2 || dt <= 0 || n < first.n {
		return 0
	}
	return float64(n-first.n) / dt
}

// committedByTopic sums committed offsets per topic and group (for RateOut: each group's progress
// counts from its second sample on, so a new group's starting offset is no spike). Errors only mean
// no rate.
func (a *Admin) committedByTopic(ctx context.Context) map[string]map[string]int64 {
	groups, err := a.adm.ListGroups(ctx)
	if err != nil || len(groups) == 0 {
		return nil
	}
	out := map[string]map[string]int64{}
	for _, r := range a.adm.FetchManyOffsets(ctx, groups.Groups()...) {
		if r.Err != nil {
			continue
		}
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				if out[o.Topic] == nil {
					out[o.Topic] = map[string]int64{}
				}
				out[o.Topic][r.Group] += o.At
			}
		})
	}
	return out
}

// Groups lists consumer groups with members, their assignments, committed offsets and lag.
func (a *Admin) Groups(ctx context.Context) ([]event.GroupInfo, error) {
	lags, err := a.adm.Lag(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	out := make([]event.GroupInfo, 0, len(lags))
	for _, l := range lags.Sorted() {
		gi := event.GroupInfo{Name: l.Group, State: l.State, Protocol: l.Protocol}
		if err := l.Error(); err != nil {
			a.log.Debug("describe group", "group", l.Group, "err", err)
			if gi.State == "" {
				gi.State = "Unknown"
			}
		}
		for _, m := range l.Members {
			gm := event.GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range c.Topics {
					if gm.Assignment == nil {
						gm.Assignment = map[string][]int32{}
					}
					ps := slices.Clone(t.Partitions)
					slices.Sort(ps)
					gm.Assignment[t.Topic] = ps
				}
			}
			gi.Members = append(gi.Members, gm)
		}
		for _, t := range slices.Sorted(maps.Keys(l.Lag)) {
			ps := l.Lag[t]
			for _, p := range slices.Sorted(maps.Keys(ps)) {
				ml := ps[p]
				if ml.Commit.At < 0 && ml.Err == nil && ml.Member == nil {
					continue
				}
				o := event.GroupOffset{Topic: t, Partition: p, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
				if o.Lag > 0 {
					gi.Lag += o.Lag
				}
				gi.Offsets = append(gi.Offsets, o)
			}
		}
		out = append(out, gi)
	}
	out = append(out, a.consumerProtocolGroups(ctx)...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// consumerProtocolGroups describes KIP-848 ("consumer" type) groups, which DescribeGroups does not
// cover. Clusters before Kafka 3.8 cannot list group types: then there are none to add.
func (a *Admin) consumerProtocolGroups(ctx context.Context) []event.GroupInfo {
	listed, err := a.adm.ListGroupsByType(ctx, []string{"consumer"})
	if err != nil || len(listed) == 0 {
		return nil
	}
	names := listed.Groups()
	// Raw ConsumerGroupDescribe rather than kadm's: assignments may name topics only by ID (kfake
	// does), which kadm's result drops; we resolve IDs through metadata.
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = names
	described := map[string]kmsg.ConsumerGroupDescribeResponseGroup{}
	for _, sh := range a.cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			a.log.Debug("describe consumer groups", "err", sh.Err)
			continue
		}
		for _, g := range sh.Resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
			if g.ErrorCode == 0 {
				described[g.Group] = g
			}
		}
	}
	idNames := map[[16]byte]string{}
	if details, err := a.adm.ListTopics(ctx); err == nil {
		for _, d := range details {
			idNames[d.ID] = d.Topic
		}
	}
	fetched := a.adm.FetchManyOffsets(ctx, names...)
	var topics []string
	seen := map[string]bool{}
	for _, r := range fetched {
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if !seen[o.Topic] {
				seen[o.Topic] = true
				topics = append(topics, o.Topic)
			}
		})
	}
	var ends kadm.ListedOffsets
	if len(topics) > 0 {
		ends, _ = a.adm.ListEndOffsets(ctx, topics...)
	}
	var out []event.GroupInfo
	for _, name := range names {
		d, ok := described[name]
		if !ok {
			continue
		}
		gi := event.GroupInfo{Name: name, State: d.State, Protocol: d.AssignorName}
		for _, m := range d.Members {
			gm := event.GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
			for _, tp := range m.Assignment.TopicPartitions {
				t := tp.Topic
				if t == "" {
					t = idNames[tp.TopicID]
				}
				if gm.Assignment == nil {
					gm.Assignment = map[string][]int32{}
				}
				ps := append(gm.Assignment[t], tp.Partitions...)
				slices.Sort(ps)
				gm.Assignment[t] = ps
			}
			gi.Members = append(gi.Members, gm)
		}
		if r, ok := fetched[name]; ok && r.Err == nil {
			r.Fetched.Each(func(o kadm.OffsetResponse) {
				if o.Err != nil || o.At < 0 {
					return
				}
				off := event.GroupOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.At, End: -1, Lag: -1}
				if e, ok := ends.Lookup(o.Topic, o.Partition); ok && e.Err == nil {
					off.End = e.Offset
					off.Lag = max(e.Offset-o.At, 0)
					gi.Lag += off.Lag
				}
				gi.Offsets = append(gi.Offsets, off)
			})
		}
		sort.Slice(gi.Offsets, func(i, j int) bool {
			if gi.Offsets[i].Topic != gi.Offsets[j].Topic {
				return gi.Offsets[i].Topic < gi.Offsets[j].Topic
			}
			return gi.Offsets[i].Partition < gi.Offsets[j].Partition
		})
		out = append(out, gi)
	}
	return out
}

// ResetGroup moves a group's committed offsets on topic ("" for every topic it has offsets for) to
// the earliest or latest offset, or to offset (clamped to what the partition holds). It refuses when
// the group has active members, as Kafka's own tool does.
func (a *Admin) ResetGroup(ctx context.Context, group, topic, to string, offset int64) error {
	if group == "" {
		return errors.New("reset group: group name is empty")
	}
	switch to {
	case "earliest", "latest", "offset":
	default:
		return fmt.Errorf("reset group %s: to must be earliest, latest or offset, not %q", group, to)
	}
	described, err := a.adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("reset group %s: %w", group, err)
	}
	if d, ok := described[group]; ok && d.Err == nil && len(d.Members) > 0 {
		return fmt.Errorf("reset group %s: it has %d active member(s) (state %s); stop its consumers first, then reset", group, len(d.Members), d.State)
	}
	for _, g := range a.consumerProtocolGroups(ctx) { // KIP-848 groups are not in DescribeGroups
		if g.Name == group && len(g.Members) > 0 {
			return fmt.Errorf("reset group %s: it has %d active member(s) (state %s); stop its consumers first, then reset", group, len(g.Members), g.State)
		}
	}
	fetched, err := a.adm.FetchOffsets(ctx, group)
	if err != nil && !(topic != "" && errors.Is(err, kerr.GroupIDNotFound)) {
		// With a topic named, a group that does not exist yet gets its first offsets.
		return fmt.Errorf("reset group %s: fetch offsets: %w", group, err)
	}
	var topics []string
	if topic != "" {
		topics = []string{topic}
	} else {
		seen := map[string]bool{}
		fetched.Each(func(o kadm.OffsetResponse) {
			if !seen[o.Topic] {
				seen[o.Topic] = true
				topics = append(topics, o.Topic)
			}
		})
		sort.Strings(topics)
		if len(topics) == 0 {
			return fmt.Errorf("reset group %s: it has no committed offsets; name a topic with --topic", group)
		}
	}
	starts, err := a.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("reset group %s: %w", group, err)
	}
	ends, err := a.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("reset group %s: %w", group, err)
	}
	os := make(kadm.Offsets)
	for _, t := range topics {
		ps, ok := ends[t]
		if !ok || len(ps) == 0 {
			return fmt.Errorf("reset group %s: topic %s does not exist", group, t)
		}
		for p, e := range ps {
			if e.Err != nil {
				return fmt.Errorf("reset group %s: topic %s: %w", group, t, e.Err)
			}
			s, _ := starts.Lookup(t, p)
			var at int64
			switch to {
			case "earliest":
				at = s.Offset
			case "latest":
				at = e.Offset
			default:
				at = min(max(offset, s.Offset), e.Offset)
			}
			os.Add(kadm.Offset{Topic: t, Partition: p, At: at, LeaderEpoch: -1})
		}
	}
	resp, err := a.adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) {
			return fmt.Errorf("reset group %s: a consumer joined meanwhile; stop its consumers first: %w", group, err)
		}
		return fmt.Errorf("reset group %s: commit: %w", group, err)
	}
	a.log.Info("group offsets reset", "group", group, "topics", topics, "to", to)
	return nil
}

// kgoLogger passes franz-go client warnings and errors to slog.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	} else if level != kgo.LogLevelWarn {
		lvl = slog.LevelDebug
	}
	k.l.Log(context.Background(), lvl, msg, append(keyvals, "component", "kafka-client")...)
}
