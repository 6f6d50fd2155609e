package broker

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/devstack-dev/devstack/internal/event"
)

// The observer follows the embedded broker's Kafka traffic on the wire, beside kfake, which has no hook
// that sees a response: each client connection (clientConn) hands it the requests it cares about as they
// arrive and their responses as kfake writes them (kfake writes a response in one Write call, and handles
// the requests of one connection one at a time). From that it keeps
//   - the records and bytes consumers fetched per topic (every Fetch request and response) and the bytes
//     producers had accepted (every Produce request and response): the metrics' in and out series;
//   - with Options.Spans set, a produce span for the records of a Produce request that carry a W3C
//     traceparent header and a fetch span when a consumer first fetches them.
//
// A request is read in kfake's own buffer, not copied. Without Spans a Produce request's batches are not
// looked into; with Spans, a batch without "traceparent" bytes costs one bytes.Index (a compressed batch
// is decompressed first, since its bytes cannot be searched).

// Bounds of what the observer keeps.
const (
	// maxTracedPerPartition traced records per partition are remembered for fetch spans (the oldest
	// go first): a consumer that falls further behind than that gets no fetch span for the oldest.
	maxTracedPerPartition = 4096
	// maxFetchedKeys bounds the (consumer, partition) watermarks that keep a re-fetch from making a
	// second fetch span, and maxGroupClients the client id -> group map; past it they start over.
	maxFetchedKeys  = 10000
	maxGroupClients = 10000
	// recordBatchHeader is the size of a v2 record batch's header, up to its first record.
	recordBatchHeader = 61
)

var traceparentKey = []byte("traceparent")

// ownClient tells devstack's own readers (the TUI's and CLI's message tap, the admin) from consumers:
// their fetches are neither counted as records out nor given spans.
func ownClient(clientID string) bool {
	return clientID == "devstack-tap" || clientID == "devstack-admin"
}

type topicPart struct {
	topic     string
	partition int32
}

// tracedRecord is a record the broker appended that carried a valid traceparent header.
type tracedRecord struct {
	offset            int64
	traceID, parentID string    // from the record's traceparent
	produceSpan       string    // the broker's produce span for it
	at                time.Time // when the broker acknowledged it
}

// flowCount is a topic's traffic: records and bytes consumers fetched, bytes producers had accepted.
type flowCount struct{ records, bytes, bytesIn int64 }

type fetchKey struct {
	consumer string // "group <name>" or "client <id>"
	tp       topicPart
}

type observer struct {
	spans event.SpanSink
	dec   kgo.Decompressor

	mu      sync.Mutex
	flow    map[string]flowCount         // by topic
	ids     map[[16]byte]string          // topic id -> name (ids are never reused)
	traced  map[topicPart][]tracedRecord // by offset
	fetched map[fetchKey]int64           // highest offset a fetch span was made for
	groups  map[string]string            // client id -> group ("" when it is in several)
}

func newObserver(spans event.SpanSink) *observer {
	o := &observer{
		spans:   spans,
		flow:    map[string]flowCount{},
		ids:     map[[16]byte]string{},
		traced:  map[topicPart][]tracedRecord{},
		fetched: map[fetchKey]int64{},
		groups:  map[string]string{},
	}
	if spans != nil {
		o.dec = kgo.DefaultDecompressor()
	}
	return o
}

// wants reports whether requests with this key are read whole and handed to request.
func (o *observer) wants(key int16) bool {
	switch kmsg.Key(key) {
	case kmsg.Produce, kmsg.Fetch, kmsg.DeleteTopics, kmsg.Metadata:
		return true
	case kmsg.JoinGroup, kmsg.ConsumerGroupHeartbeat:
		return o.spans != nil
	}
	return false
}

// pendingReq is a request whose response the observer waits for.
type pendingReq struct {
	key     kmsg.Key
	version int16
	client  string
	start   time.Time
	offsets map[topicPart]int64 // Fetch: the offsets the request asked for
	groups  []producedGroup     // Produce: traced records by trace and partition
	in      map[topicPart]int64 // Produce: bytes of record batches per partition
}

// producedGroup is the records of one Produce request with the same traceparent parent on one partition.
type producedGroup struct {
	tp                topicPart
	traceID, parentID string
	deltas            []int64 // offsets relative to the partition's base offset in the response
}

// name resolves a topic given by name or (newer request versions) by id. Ids are learned from the
// Metadata responses the broker sends (a client learns a topic's id from one before it uses it), not from
// kfake's TopicIDInfo: that call blocks for good once the cluster has stopped, and the connections'
// goroutines may still run then. "" when the id is unknown.
func (o *observer) name(topic string, id [16]byte) string {
	if topic != "" || id == [16]byte{} {
		return topic
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ids[id]
}

// request handles one whole request (header included) that wants asked for; start is when it arrived.
func (o *observer) request(c *clientConn, body []byte, start time.Time) {
	r := kbin.Reader{Src: body}
	key, version, corr := r.Int16(), r.Int16(), r.Int32()
	cid := r.NullableString()
	kreq := kmsg.RequestForKey(key)
	if kreq == nil || !r.Ok() {
		return
	}
	kreq.SetVersion(version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if !r.Ok() || kreq.ReadFrom(r.Src) != nil {
		return
	}
	var client string
	if cid != nil {
		client = *cid
	}
	switch req := kreq.(type) {
	case *kmsg.FetchRequest:
		o.fetchRequest(c, req, client, corr, start)
	case *kmsg.ProduceRequest:
		o.produceRequest(c, req, client, corr, start)
	case *kmsg.MetadataRequest:
		c.mu.Lock()
		c.addPending(corr, &pendingReq{key: kmsg.Metadata, version: req.Version})
		c.mu.Unlock()
	case *kmsg.JoinGroupRequest:
		o.member(client, req.Group)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		o.member(client, req.Group)
	case *kmsg.DeleteTopicsRequest:
		names := req.TopicNames
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			} else if n := o.name("", t.TopicID); n != "" {
				names = append(names, n)
			}
		}
		o.forget(names)
	}
}

// member notes that client is a member of group, so its fetches can name the group.
func (o *observer) member(client, group string) {
	if group == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	g, ok := o.groups[client]
	switch {
	case !ok:
		if len(o.groups) >= maxGroupClients {
			clear(o.groups)
		}
		o.groups[client] = group
	case g != group:
		o.groups[client] = "" // one client id in several groups: cannot tell which one fetches
	}
}

// forget drops what the observer keeps about deleted topics: a topic created again under the same name
// starts at offset 0 and its out counters at zero.
func (o *observer) forget(names []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range names {
		delete(o.flow, n)
	}
	for id, n := range o.ids {
		if slices.Contains(names, n) {
			delete(o.ids, id)
		}
	}
	for tp := range o.traced {
		for _, n := range names {
			if tp.topic == n {
				delete(o.traced, tp)
			}
		}
	}
	for k := range o.fetched {
		for _, n := range names {
			if k.tp.topic == n {
				delete(o.fetched, k)
			}
		}
	}
}

func (o *observer) fetchRequest(c *clientConn, req *kmsg.FetchRequest, client string, corr int32, start time.Time) {
	if ownClient(client) {
		return
	}
	offsets := make(map[topicPart]int64)
	for _, t := range req.Topics {
		name := o.name(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			offsets[topicPart{name, p.Partition}] = p.FetchOffset
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A fetch session (KIP-227) lists only the partitions whose offset changed; the others keep the
	// offset the session had.
	if req.SessionEpoch <= 0 || c.session == nil {
		c.session = make(map[topicPart]int64)
	}
	for _, t := range req.ForgottenTopics {
		name := o.name(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			delete(c.session, topicPart{name, p})
		}
	}
	for tp, off := range offsets {
		c.session[tp] = off
	}
	c.addPending(corr, &pendingReq{key: kmsg.Fetch, version: req.Version, client: client, start: start, offsets: offsets})
}

func (o *observer) produceRequest(c *clientConn, req *kmsg.ProduceRequest, client string, corr int32, start time.Time) {
	var groups []producedGroup
	in := make(map[topicPart]int64)
	for _, t := range req.Topics {
		name := o.name(t.Topic, t.TopicID)
		if name == "" {
			continue
		}
		for _, p := range t.Partitions {
			tp := topicPart{name, p.Partition}
			in[tp] += int64(len(p.Records))
			if o.spans == nil || !bytes.Contains(p.Records, traceparentKey) && !compressed(p.Records) {
				continue
			}
			groups = o.tracedIn(groups, tp, p.Records)
		}
	}
	pr := &pendingReq{key: kmsg.Produce, version: req.Version, client: client, start: start, groups: groups, in: in}
	if req.Acks == 0 { // no response: count what was sent; the spans have no offset
		o.addIn(pr, nil)
		if len(groups) > 0 {
			o.produceSpans(pr, nil, time.Now())
		}
		return
	}
	c.mu.Lock()
	c.addPending(corr, pr)
	c.mu.Unlock()
}

// addIn counts the bytes of pr's partitions that ok accepts (nil: all) as bytes in.
func (o *observer) addIn(pr *pendingReq, ok func(topicPart) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for tp, n := range pr.in {
		if ok == nil || ok(tp) {
			fc := o.flow[tp.topic]
			fc.bytesIn += n
			o.flow[tp.topic] = fc
		}
	}
}

// compressed reports whether any batch in a partition's records is compressed (its bytes cannot be
// searched for a header).
func compressed(batches []byte) bool {
	for len(batches) >= recordBatchHeader {
		size := 12 + int(int32(binary.BigEndian.Uint32(batches[8:12])))
		if size < recordBatchHeader || size > len(batches) {
			return false
		}
		if batches[16] == 2 && batches[22]&7 != 0 {
			return true
		}
		batches = batches[size:]
	}
	return false
}

// tracedIn appends the records of one partition's batches that carry a valid traceparent, grouped by
// trace and parent span.
func (o *observer) tracedIn(groups []producedGroup, tp topicPart, batches []byte) []producedGroup {
	var base int64 // offset of this batch relative to the first batch
	for len(batches) >= recordBatchHeader {
		size := 12 + int(int32(binary.BigEndian.Uint32(batches[8:12])))
		if size < recordBatchHeader || size > len(batches) || batches[16] != 2 {
			return groups
		}
		batch := batches[:size]
		batches = batches[size:]
		attrs := binary.BigEndian.Uint16(batch[21:23])
		lastDelta := int64(int32(binary.BigEndian.Uint32(batch[23:27])))
		n := int(int32(binary.BigEndian.Uint32(batch[57:61])))
		recs := batch[recordBatchHeader:]
		if codec := attrs & 7; codec != 0 && attrs&0x20 == 0 {
			var err error
			if recs, err = o.dec.Decompress(recs, kgo.CompressionCodecType(codec)); err != nil {
				base += lastDelta + 1
				continue
			}
		}
		if attrs&0x20 != 0 || !bytes.Contains(recs, traceparentKey) {
			base += lastDelta + 1
			continue
		}
		for i := 0; i < n && len(recs) > 0; i++ {
			length, ln := kbin.Varint(recs)
			if ln <= 0 || length < 0 || ln+int(length) > len(recs) {
				break
			}
			var rec kmsg.Record
			if rec.ReadFrom(recs[:ln+int(length)]) != nil {
				break
			}
			recs = recs[ln+int(length):]
			for _, h := range rec.Headers {
				if h.Key != "traceparent" {
					continue
				}
				traceID, parentID, _, ok := event.ParseTraceparent(string(h.Value))
				if !ok {
					break
				}
				groups = addTraced(groups, tp, traceID, parentID, base+int64(rec.OffsetDelta))
				break
			}
		}
		base += lastDelta + 1
	}
	return groups
}

func addTraced(groups []producedGroup, tp topicPart, traceID, parentID string, delta int64) []producedGroup {
	for i := range groups {
		if g := &groups[i]; g.tp == tp && g.traceID == traceID && g.parentID == parentID {
			g.deltas = append(g.deltas, delta)
			return groups
		}
	}
	return append(groups, producedGroup{tp: tp, traceID: traceID, parentID: parentID, deltas: []int64{delta}})
}

// response handles a response frame kfake wrote (size, correlation id, header tags, body) for a pending
// request; end is when kfake handed it over.
func (o *observer) response(c *clientConn, frame []byte, end time.Time) {
	if len(frame) < 8 {
		return
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:8]))
	c.mu.Lock()
	pr := c.pending[corr]
	if pr != nil {
		delete(c.pending, corr)
		c.npending.Add(-1)
	}
	c.mu.Unlock()
	if pr == nil {
		return
	}
	kresp := kmsg.ResponseForKey(int16(pr.key))
	kresp.SetVersion(pr.version)
	body := frame[8:]
	if kresp.IsFlexible() {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		if !r.Ok() {
			return
		}
		body = r.Src
	}
	if kresp.ReadFrom(body) != nil {
		return
	}
	switch resp := kresp.(type) {
	case *kmsg.MetadataResponse:
		o.mu.Lock()
		for _, t := range resp.Topics {
			if t.Topic != nil && t.TopicID != [16]byte{} && t.ErrorCode == 0 {
				o.ids[t.TopicID] = *t.Topic
			}
		}
		o.mu.Unlock()
	case *kmsg.FetchResponse:
		o.fetched1(c, pr, resp, end)
	case *kmsg.ProduceResponse:
		type result struct {
			code int16
			base int64
		}
		results := make(map[topicPart]result)
		for _, t := range resp.Topics {
			name := o.name(t.Topic, t.TopicID)
			for _, p := range t.Partitions {
				results[topicPart{name, p.Partition}] = result{p.ErrorCode, p.BaseOffset}
			}
		}
		o.addIn(pr, func(tp topicPart) bool {
			r, ok := results[tp]
			return ok && r.code == 0
		})
		if len(pr.groups) > 0 {
			o.produceSpans(pr, func(tp topicPart) (int16, int64, bool) {
				r, ok := results[tp]
				return r.code, r.base, ok
			}, end)
		}
	}
}

// produceSpans makes one produce span per group of pr and remembers the appended records for fetch spans.
// result gives a partition's error code and base offset; nil: no response (acks=0).
func (o *observer) produceSpans(pr *pendingReq, result func(topicPart) (int16, int64, bool), end time.Time) {
	spans := make([]event.Span, 0, len(pr.groups))
	for _, g := range pr.groups {
		s := o.span(g.traceID, g.parentID, "produce", g.tp, pr.client, pr.start, end, len(g.deltas))
		s.Attrs["messaging.operation.type"] = "send"
		if result != nil {
			code, base, ok := result(g.tp)
			switch {
			case !ok:
				s.Status, s.StatusMessage = "error", "the broker's response has no result for this partition"
			case code != 0:
				s.Status = "error"
				if err := kerr.ErrorForCode(code); err != nil {
					s.StatusMessage = err.Error()
				}
			default:
				s.Attrs["messaging.kafka.offset"] = strconv.FormatInt(base+g.deltas[0], 10)
				o.remember(g, base, s.SpanID, end)
			}
		}
		spans = append(spans, s)
	}
	o.spans(spans)
}

// remember keeps the appended traced records of g for fetch spans.
func (o *observer) remember(g producedGroup, base int64, spanID string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	recs := o.traced[g.tp]
	for _, d := range g.deltas {
		tr := tracedRecord{offset: base + d, traceID: g.traceID, parentID: g.parentID, produceSpan: spanID, at: at}
		// Responses of two connections may be written out of order: keep the slice sorted.
		i := sort.Search(len(recs), func(i int) bool { return recs[i].offset >= tr.offset })
		recs = append(recs, tracedRecord{})
		copy(recs[i+1:], recs[i:])
		recs[i] = tr
	}
	if over := len(recs) - maxTracedPerPartition; over > 0 {
		recs = append(recs[:0:0], recs[over:]...)
	}
	o.traced[g.tp] = recs
}

// fetched1 counts what a fetch response carries and makes the fetch spans for traced records a consumer
// gets for the first time.
func (o *observer) fetched1(c *clientConn, pr *pendingReq, resp *kmsg.FetchResponse, end time.Time) {
	type part struct {
		tp     topicPart
		lo, hi int64
	}
	var parts []part
	counts := map[string]flowCount{}
	for _, t := range resp.Topics {
		var name string
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
				continue
			}
			if name == "" {
				if name = o.name(t.Topic, t.TopicID); name == "" {
					break
				}
			}
			tp := topicPart{name, p.Partition}
			from, ok := pr.offsets[tp]
			if !ok {
				c.mu.Lock()
				from, ok = c.session[tp]
				c.mu.Unlock()
				if !ok {
					from = 0
				}
			}
			n, size, lo, hi := countBatches(p.RecordBatches, from)
			fc := counts[name]
			fc.records += n
			fc.bytes += size
			counts[name] = fc
			if n > 0 {
				parts = append(parts, part{tp, lo, hi})
			}
		}
	}
	if len(counts) == 0 {
		return
	}
	o.mu.Lock()
	for name, fc := range counts {
		tot := o.flow[name]
		tot.records += fc.records
		tot.bytes += fc.bytes
		o.flow[name] = tot
	}
	if o.spans == nil || len(o.traced) == 0 {
		o.mu.Unlock()
		return
	}
	consumer := "client " + pr.client
	group := o.groups[pr.client]
	if group != "" {
		consumer = "group " + group
	}
	var spans []event.Span
	for _, p := range parts {
		recs := o.traced[p.tp]
		if len(recs) == 0 {
			continue
		}
		fk := fetchKey{consumer, p.tp}
		w, seen := o.fetched[fk]
		lo := p.lo
		if seen {
			lo = max(lo, w+1)
		}
		if !seen && len(o.fetched) >= maxFetchedKeys {
			clear(o.fetched)
		}
		o.fetched[fk] = max(w, p.hi)
		type traced struct {
			s event.Span
			n int
		}
		var groups []*traced
		for i := sort.Search(len(recs), func(i int) bool { return recs[i].offset >= lo }); i < len(recs) && recs[i].offset <= p.hi; i++ {
			r := recs[i]
			var g *traced
			for _, x := range groups {
				if x.s.TraceID == r.traceID && x.s.ParentID == r.parentID {
					g = x
				}
			}
			if g == nil {
				s := o.span(r.traceID, r.parentID, "fetch", p.tp, pr.client, pr.start, end, 0)
				s.Attrs["messaging.operation.type"] = "receive"
				s.Attrs["messaging.kafka.offset"] = strconv.FormatInt(r.offset, 10)
				if group != "" {
					s.Attrs["messaging.consumer.group.name"] = group
				}
				// A fetch that was waiting when the record arrived starts, for the trace, when the
				// record was there to fetch.
				s.Start = latest(s.Start, r.at)
				s.Links = []event.SpanLink{{TraceID: r.traceID, SpanID: r.produceSpan}}
				g = &traced{s: s}
				groups = append(groups, g)
			}
			g.n++
		}
		for _, g := range groups {
			g.s.Attrs["messaging.batch.message_count"] = strconv.Itoa(g.n)
			spans = append(spans, g.s)
		}
	}
	o.mu.Unlock()
	if len(spans) > 0 {
		o.spans(spans)
	}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// countBatches walks the record batches of one partition of a fetch response: records at or after from
// (a batch is returned whole, records before the fetch offset included) and bytes, skipping control
// batches and a partial batch at the end; lo and hi are the first and last offsets counted.
func countBatches(batches []byte, from int64) (n, size, lo, hi int64) {
	lo = -1
	for len(batches) >= recordBatchHeader {
		bsize := 12 + int(int32(binary.BigEndian.Uint32(batches[8:12])))
		if bsize < recordBatchHeader || bsize > len(batches) {
			break
		}
		batch := batches[:bsize]
		batches = batches[bsize:]
		if batch[16] != 2 || binary.BigEndian.Uint16(batch[21:23])&0x20 != 0 {
			continue
		}
		base := int64(binary.BigEndian.Uint64(batch[0:8]))
		last := base + int64(int32(binary.BigEndian.Uint32(batch[23:27])))
		records := int64(int32(binary.BigEndian.Uint32(batch[57:61])))
		if last < from || records <= 0 {
			continue
		}
		if base < from {
			records = min(records, last-from+1)
		}
		n += records
		size += int64(bsize)
		if lo < 0 {
			lo = max(base, from)
		}
		hi = last
	}
	return n, size, lo, hi
}

// span is a broker span for records of one trace on one partition. Kind is server: the broker handles
// the client's Produce or Fetch request, a synchronous call; the producer and consumer kinds of OTel's
// messaging conventions belong to the clients' own send and receive spans, whose parent or link the
// header names.
func (o *observer) span(traceID, parentID, op string, tp topicPart, client string, start, end time.Time, count int) event.Span {
	s := event.Span{
		TraceID:  traceID,
		SpanID:   newSpanID(),
		ParentID: parentID,
		Service:  "broker",
		Name:     op + " " + tp.topic,
		Kind:     "server",
		Start:    start,
		End:      end,
		Attrs: map[string]string{
			"messaging.system":                   "kafka",
			"messaging.operation.name":           op,
			"messaging.destination.name":         tp.topic,
			"messaging.destination.partition.id": strconv.Itoa(int(tp.partition)),
			"messaging.client.id":                client,
		},
	}
	if count > 0 {
		s.Attrs["messaging.batch.message_count"] = strconv.Itoa(count)
	}
	return s
}

func newSpanID() string {
	var b [8]byte
	for {
		binary.LittleEndian.PutUint64(b[:], rand.Uint64())
		if b != [8]byte{} {
			return hex.EncodeToString(b[:])
		}
	}
}

// counts returns each topic's traffic so far.
func (o *observer) counts() map[string]flowCount {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]flowCount, len(o.flow))
	for k, v := range o.flow {
		m[k] = v
	}
	return m
}
