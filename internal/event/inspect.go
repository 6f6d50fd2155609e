package event

import (
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) for an unknown service, topic or group.
var ErrNotFound = errors.New("not found")

// TopicInfo describes one topic as the broker sees it.
type TopicInfo struct {
	Name       string            `json:"name"`
	Partitions []PartitionInfo   `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	Messages   int64             `json:"messages"`           // sum over partitions of end - start
	RateIn     float64           `json:"rate_in,omitempty"`  // msgs/s produced, averaged over recent samples
	RateOut    float64           `json:"rate_out,omitempty"` // msgs/s consumed (committed by groups)
}

// PartitionInfo is one partition's offsets.
type PartitionInfo struct {
	Partition   int32 `json:"partition"`
	StartOffset int64 `json:"start_offset"`
	EndOffset   int64 `json:"end_offset"`
}

// GroupInfo describes one consumer group.
type GroupInfo struct {
	Name     string        `json:"name"`
	State    string        `json:"state"`
	Protocol string        `json:"protocol,omitempty"`
	Members  []GroupMember `json:"members,omitempty"`
	Offsets  []GroupOffset `json:"offsets,omitempty"`
	Lag      int64         `json:"lag"` // total lag over all partitions
}

// GroupMember is one member of a consumer group and its assignment.
type GroupMember struct {
	ID         string             `json:"id"`
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	Assignment map[string][]int32 `json:"assignment,omitempty"` // topic -> partitions
}

// GroupOffset is a group's committed offset and lag on one partition.
type GroupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
}

// Header is one Kafka record header.
type Header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// Message is one Kafka record read by a tap (never through a consumer group).
type Message struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Key       []byte    `json:"key,omitempty"`
	Value     []byte    `json:"value,omitempty"`
	Headers   []Header  `json:"headers,omitempty"`
}

// RouteStats is the gateway's live view of one route.
type RouteStats struct {
	Route     string           `json:"route"` // e.g. "/api/users -> users"
	Service   string           `json:"service"`
	Requests  int64            `json:"requests"`
	Rate      float64          `json:"rate"` // req/s over the last few seconds
	P50       time.Duration    `json:"p50"`
	P99       time.Duration    `json:"p99"`
	Status    map[string]int64 `json:"status"` // "2xx" -> count
	Upstreams []UpstreamInfo   `json:"upstreams,omitempty"`
}

// UpstreamInfo is one instance behind a route.
type UpstreamInfo struct {
	Addr     string `json:"addr"`
	Ready    bool   `json:"ready"`
	Healthy  bool   `json:"healthy"`
	InFlight int64  `json:"in_flight"`
}

// MessageQuery selects where a tap starts reading.
type MessageQuery struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`       // -1 for all partitions
	Offset    int64     `json:"offset"`          // used when From is "offset"
	From      string    `json:"from"`            // "beginning", "end", "offset", "time", "last" (last Limit records)
	Since     time.Time `json:"since,omitempty"` // used when From is "time"
	Limit     int       `json:"limit,omitempty"` // stop after this many (0: no limit)
	Follow    bool      `json:"follow,omitempty"`
}
