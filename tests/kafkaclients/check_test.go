package kafkaclients

import (
	"strings"
	"testing"
)

// TestCheckConsumed shows that the scenario's checks catch each way a broker can get it wrong.
func TestCheckConsumed(t *testing.T) {
	good := func() result {
		return result{Members: []member{
			{Name: "a", Assigned: []int32{0, 1}, Records: []record{{"m-0", 0, 0}, {"m-2", 0, 1}, {"m-1", 1, 0}}},
			{Name: "b", Assigned: []int32{2, 3}, Records: []record{{"m-3", 2, 0}, {"m-4", 3, 0}}},
		}}
	}
	tests := []struct {
		name   string
		mutate func(r *result)
		want   string // substring of the problems; "" means none
	}{
		{"exactly once, shared", func(*result) {}, ""},
		{"duplicate delivery", func(r *result) {
			r.Members[1].Records = append(r.Members[1].Records, record{"m-0", 2, 1})
		}, "m-0 delivered 2 times"},
		{"lost record", func(r *result) { r.Members[1].Records = r.Members[1].Records[:1] }, "never delivered: m-4"},
		{"old record served again", func(r *result) {
			r.Members[0].Records = append([]record{{"m-99", 0, 0}}, r.Members[0].Records...)
		}, "delivered but not expected"},
		{"one member got nothing", func(r *result) {
			r.Members[0].Assigned = []int32{0, 1, 2, 3}
			r.Members[1].Assigned = nil
		}, "did not share"},
		{"partition assigned twice", func(r *result) { r.Members[1].Assigned = []int32{1, 2, 3} }, "did not share"},
		{"partition assigned to nobody", func(r *result) { r.Members[1].Assigned = []int32{2} }, "did not share"},
		{"record from someone else's partition", func(r *result) { r.Members[1].Records[0].P = 0 }, "not assigned to it"},
		{"offsets out of order", func(r *result) { r.Members[0].Records[1].O = 0 }, "after offset 0"},
		{"wrong member count", func(r *result) { r.Members = r.Members[:1] }, "1 members reported, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.mutate(&r)
			probs := strings.Join(checkConsumed(r, 2, 4, 0, 5), "\n")
			switch {
			case tt.want == "" && probs != "":
				t.Fatalf("want no problems, got:\n%s", probs)
			case tt.want != "" && !strings.Contains(probs, tt.want):
				t.Fatalf("want a problem containing %q, got:\n%s", tt.want, probs)
			}
		})
	}
}

// TestPinnedVersion reads the pins the client checks compare the installed versions with.
func TestPinnedVersion(t *testing.T) {
	tests := []struct {
		name, reqs, dist, want string
	}{
		{"plain", "confluent-kafka==2.16.1\n", "confluent-kafka", "2.16.1"},
		{"extras", "# c\nconfluent-kafka[avro,json,protobuf]==2.16.1\nkafka-python==3.0.12\n", "confluent-kafka", "2.16.1"},
		{"other dist with extras", "confluent-kafka-extra[x]==1.0\n", "confluent-kafka", ""},
		{"prefix of another dist", "kafka-python-ng==2.2.3\n", "kafka-python", ""},
		{"missing", "kafka-python==3.0.12\n", "confluent-kafka", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pinnedVersion(tt.reqs, tt.dist); got != tt.want {
				t.Fatalf("pinnedVersion(%q, %s) = %q, want %q", tt.reqs, tt.dist, got, tt.want)
			}
		})
	}
}

// TestSnapshotDiff shows that the registry persistence check reports each way a restart can lose or
// change what the registry held.
func TestSnapshotDiff(t *testing.T) {
	before := func() regSnapshot {
		return regSnapshot{MaxID: 2, Answers: map[string]string{
			"/subjects?deleted=true":       `200 ["a-value","b-value"]`,
			"/config/a-value":              `200 {"compatibilityLevel":"FORWARD"}`,
			"/subjects/a-value/versions":   `200 [1,2]`,
			"/subjects/b-value/versions":   `404 {"error_code":40401}`,
			"/schemas/ids/1":               `200 {"schema":"\"long\""}`,
			"/schemas/ids/2":               `200 {"schema":"\"string\""}`,
			"/schemas/ids/3":               `404 {"error_code":40403}`,
			"/subjects/a-value/versions/2": `200 {"id":2,"version":2}`,
		}}
	}
	tests := []struct {
		name   string
		mutate func(s *regSnapshot)
		want   string // substring of the differences; "" means none
	}{
		{"nothing changed", func(*regSnapshot) {}, ""},
		{"schema id lost", func(s *regSnapshot) { s.Answers["/schemas/ids/2"] = `404 {"error_code":40403}` }, "GET /schemas/ids/2 changed"},
		{"id points at another schema", func(s *regSnapshot) { s.Answers["/schemas/ids/1"] = `200 {"schema":"\"int\""}` }, "GET /schemas/ids/1 changed"},
		{"version lost", func(s *regSnapshot) { s.Answers["/subjects/a-value/versions"] = `200 [1]` }, "/subjects/a-value/versions changed"},
		{"soft delete undone", func(s *regSnapshot) { s.Answers["/subjects/b-value/versions"] = `200 [1]` }, "/subjects/b-value/versions changed"},
		{"level lost", func(s *regSnapshot) { s.Answers["/config/a-value"] = `404 {"error_code":40408}` }, "/config/a-value changed"},
		{"subject gone", func(s *regSnapshot) { delete(s.Answers, "/config/a-value") }, "its subject is gone"},
		{"largest id lower", func(s *regSnapshot) { delete(s.Answers, "/schemas/ids/3") }, "largest id"},
		{"subject appeared", func(s *regSnapshot) { s.Answers["/config/c-value"] = `200 {}` }, "was not there before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := before()
			tt.mutate(&after)
			diffs := strings.Join(before().diff(after), "\n")
			switch {
			case tt.want == "" && diffs != "":
				t.Fatalf("want no differences, got:\n%s", diffs)
			case tt.want != "" && !strings.Contains(diffs, tt.want):
				t.Fatalf("want a difference containing %q, got:\n%s", tt.want, diffs)
			}
		})
	}
}
