package schemareg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}`
	// orderV2 adds a field with a default: BACKWARD compatible with orderV1.
	orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int","default":0}]}`
	// orderBad adds a field without a default: not BACKWARD compatible with orderV1.
	orderBad = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"price","type":"double"}]}`
	item     = `{"type":"record","name":"Item","namespace":"shop","fields":[{"name":"sku","type":"string"}]}`
	cart     = `{"type":"record","name":"Cart","namespace":"shop","fields":[{"name":"item","type":"shop.Item"}]}`
)

func client(t testing.TB, r *Registry) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(r.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// code is the Confluent error code of err (0 when it has none).
func code(err error) int {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return 0
}

// must(f())(t) is f's value, or the test's end when f fails.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestClient drives the registry with franz-go's sr client, every method it has.
func TestClient(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)

	types := must(cl.SupportedTypes(ctx))(t)
	if len(types) != 3 {
		t.Errorf("SupportedTypes: %v", types)
	}

	// Register, and again: the same id and version.
	s1 := must(cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: orderV1}))(t)
	if s1.ID != 1 || s1.Version != 1 || s1.Subject != "orders-value" {
		t.Fatalf("CreateSchema: %+v", s1)
	}
	again := must(cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: orderV1}))(t)
	if again.ID != 1 || again.Version != 1 {
		t.Errorf("registering the same schema again: %+v, want id 1 version 1", again)
	}
	// The same schema under another subject: the same id.
	other := must(cl.CreateSchema(ctx, "audit-value", sr.Schema{Schema: orderV1}))(t)
	if other.ID != 1 || other.Version != 1 {
		t.Errorf("the same schema under another subject: %+v, want id 1", other)
	}
	s2 := must(cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: orderV2}))(t)
	if s2.ID != 2 || s2.Version != 2 {
		t.Errorf("CreateSchema v2: %+v", s2)
	}
	// Incompatible under BACKWARD: 409, with the checker's reason.
	_, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: orderBad})
	if code(err) != 409 || !strings.Contains(err.Error(), "price") {
		t.Errorf("incompatible schema: %v (code %d), want 409 naming the field", err, code(err))
	}
	res := must(cl.CheckCompatibility(ctx, "orders-value", -1, sr.Schema{Schema: orderBad}))(t)
	if res.Is {
		t.Errorf("CheckCompatibility(latest, incompatible): %+v", res)
	}
	vctx := sr.WithParams(ctx, sr.Verbose)
	res = must(cl.CheckCompatibility(vctx, "orders-value", -2, sr.Schema{Schema: orderBad}))(t)
	if res.Is || len(res.Messages) == 0 {
		t.Errorf("CheckCompatibility(all, verbose): %+v, want messages", res)
	}
	res = must(cl.CheckCompatibility(ctx, "orders-value", 1, sr.Schema{Schema: orderV2}))(t)
	if !res.Is {
		t.Errorf("CheckCompatibility(1, compatible): %+v", res)
	}

	if subs := must(cl.Subjects(ctx))(t); !slices.Equal(subs, []string{"audit-value", "orders-value"}) {
		t.Errorf("Subjects: %v", subs)
	}
	if got := must(cl.SchemaByID(ctx, 2))(t); got.Schema == "" || got.Type != sr.TypeAvro {
		t.Errorf("SchemaByID: %+v", got)
	}
	if txt := must(cl.SchemaTextByID(ctx, 1))(t); !strings.Contains(txt, `"Order"`) {
		t.Errorf("SchemaTextByID: %s", txt)
	}
	if subs := must(cl.SubjectsByID(ctx, 1))(t); !slices.Equal(subs, []string{"audit-value", "orders-value"}) {
		t.Errorf("SubjectsByID: %v", subs)
	}
	if svs := must(cl.SchemaVersionsByID(ctx, 1))(t); len(svs) != 2 {
		t.Errorf("SchemaVersionsByID: %v", svs)
	}
	if vs := must(cl.SubjectVersions(ctx, "orders-value"))(t); !slices.Equal(vs, []int{1, 2}) {
		t.Errorf("SubjectVersions: %v", vs)
	}
	if ss := must(cl.SchemaByVersion(ctx, "orders-value", -1))(t); ss.Version != 2 || ss.ID != 2 {
		t.Errorf("SchemaByVersion(latest): %+v", ss)
	}
	if txt := must(cl.SchemaTextByVersion(ctx, "orders-value", 1))(t); !strings.Contains(txt, `"id"`) {
		t.Errorf("SchemaTextByVersion: %s", txt)
	}
	if all := must(cl.AllSchemas(ctx))(t); len(all) != 3 {
		t.Errorf("AllSchemas: %d, want 3", len(all))
	}
	if ss := must(cl.Schemas(ctx, "orders-value"))(t); len(ss) != 2 {
		t.Errorf("Schemas: %v", ss)
	}
	if ss := must(cl.LookupSchema(ctx, "orders-value", sr.Schema{Schema: orderV2}))(t); ss.Version != 2 || ss.ID != 2 {
		t.Errorf("LookupSchema: %+v", ss)
	}
	if _, err := cl.LookupSchema(ctx, "orders-value", sr.Schema{Schema: orderBad}); code(err) != 40403 {
		t.Errorf("LookupSchema(unknown): %v, want 40403", err)
	}
	if us := must(cl.SchemaUsagesByID(ctx, 1))(t); len(us) != 2 {
		t.Errorf("SchemaUsagesByID: %v", us)
	}
	if _, err := cl.RegisterSchema(ctx, "orders-value", sr.Schema{Schema: orderV2}, 77, -1); code(err) != 42205 {
		t.Errorf("RegisterSchema with an id outside IMPORT mode: %v, want 42205", err)
	}

	// References.
	must(cl.CreateSchema(ctx, "item-value", sr.Schema{Schema: item}))(t)
	ref := sr.SchemaReference{Name: "shop.Item", Subject: "item-value", Version: 1}
	c := must(cl.CreateSchema(ctx, "cart-value", sr.Schema{Schema: cart, References: []sr.SchemaReference{ref}}))(t)
	if len(c.References) != 1 {
		t.Errorf("a schema with a reference: %+v", c)
	}
	if by := must(cl.SchemaReferences(ctx, "item-value", 1))(t); len(by) != 1 || by[0].Subject != "cart-value" {
		t.Errorf("SchemaReferences: %+v", by)
	}
	if _, err := cl.CreateSchema(ctx, "cart2-value", sr.Schema{Schema: cart, References: []sr.SchemaReference{{Name: "shop.Item", Subject: "nope", Version: 1}}}); code(err) != 42201 {
		t.Errorf("unknown reference: %v, want 42201", err)
	}
	if err := cl.DeleteSchema(ctx, "item-value", 1, sr.SoftDelete); code(err) != 42206 {
		t.Errorf("deleting a referenced version: %v, want 42206", err)
	}

	// Compatibility levels.
	if cr := cl.Compatibility(ctx); cr[0].Err != nil || cr[0].Level != sr.CompatBackward {
		t.Errorf("Compatibility(global): %+v", cr[0])
	}
	if cr := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "orders-value"); cr[0].Err != nil || cr[0].Level != sr.CompatNone {
		t.Errorf("SetCompatibility: %+v", cr[0])
	}
	if cr := cl.Compatibility(ctx, "orders-value"); cr[0].Err != nil || cr[0].Level != sr.CompatNone {
		t.Errorf("Compatibility(subject): %+v", cr[0])
	}
	s3 := must(cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: orderBad}))(t)
	if s3.Version != 3 {
		t.Errorf("registering under NONE: %+v", s3)
	}
	if cr := cl.ResetCompatibility(ctx, "orders-value"); cr[0].Err != nil || cr[0].Level != sr.CompatNone {
		t.Errorf("ResetCompatibility: %+v", cr[0])
	}
	if cr := cl.Compatibility(ctx, "orders-value"); code(cr[0].Err) != 40408 {
		t.Errorf("Compatibility after reset: %v, want 40408", cr[0].Err)
	}

	// Modes.
	if m := cl.Mode(ctx); m[0].Err != nil || m[0].Mode != sr.ModeReadWrite {
		t.Errorf("Mode: %+v", m[0])
	}
	if m := cl.SetMode(ctx, sr.ModeReadOnly, "audit-value"); m[0].Err != nil || m[0].Mode != sr.ModeReadOnly {
		t.Errorf("SetMode: %+v", m[0])
	}
	if _, err := cl.CreateSchema(ctx, "audit-value", sr.Schema{Schema: orderV2}); code(err) != 42205 {
		t.Errorf("registering in READONLY: %v, want 42205", err)
	}
	if m := cl.ResetMode(ctx, "audit-value"); m[0].Err != nil || m[0].Mode != sr.ModeReadOnly {
		t.Errorf("ResetMode: %+v", m[0])
	}
	if m := cl.SetMode(ctx, sr.ModeImport, "imported-value"); m[0].Err != nil {
		t.Errorf("SetMode(IMPORT) on an empty subject: %v", m[0].Err)
	}
	imp := must(cl.CreateSchemaWithIDAndVersion(ctx, "imported-value", sr.Schema{Schema: `{"type":"enum","name":"Color","symbols":["RED"]}`}, 100, 7))(t)
	if imp.ID != 100 || imp.Version != 7 {
		t.Errorf("IMPORT with id and version: %+v", imp)
	}

	// Deletes: soft, then hard.
	if err := cl.DeleteSchema(ctx, "orders-value", 3, sr.HardDelete); code(err) != 40407 {
		t.Errorf("hard delete before soft: %v, want 40407", err)
	}
	noErr(t, cl.DeleteSchema(ctx, "orders-value", 3, sr.SoftDelete))
	if err := cl.DeleteSchema(ctx, "orders-value", 3, sr.SoftDelete); code(err) != 40406 {
		t.Errorf("soft delete twice: %v, want 40406", err)
	}
	if _, err := cl.SchemaByVersion(ctx, "orders-value", 3); code(err) != 40402 {
		t.Errorf("a soft-deleted version: %v, want 40402", err)
	}
	noErr(t, cl.DeleteSchema(ctx, "orders-value", 3, sr.HardDelete))
	if _, err := cl.DeleteSubject(ctx, "audit-value", sr.HardDelete); code(err) != 40405 {
		t.Errorf("hard subject delete before soft: %v, want 40405", err)
	}
	if vs := must(cl.DeleteSubject(ctx, "orders-value", sr.SoftDelete))(t); !slices.Equal(vs, []int{1, 2}) {
		t.Errorf("DeleteSubject(soft): %v", vs)
	}
	if _, err := cl.DeleteSubject(ctx, "orders-value", sr.SoftDelete); code(err) != 40404 {
		t.Errorf("soft subject delete twice: %v, want 40404", err)
	}
	if _, err := cl.SubjectVersions(ctx, "orders-value"); code(err) != 40401 {
		t.Errorf("versions of a soft-deleted subject: %v, want 40401", err)
	}
	dctx := sr.WithParams(ctx, sr.ShowDeleted)
	if subs := must(cl.Subjects(dctx))(t); !slices.Contains(subs, "orders-value") {
		t.Errorf("Subjects(?deleted=true): %v", subs)
	}
	if vs := must(cl.DeleteSubject(ctx, "orders-value", sr.HardDelete))(t); !slices.Equal(vs, []int{1, 2}) {
		t.Errorf("DeleteSubject(hard): %v", vs)
	}
	if subs := must(cl.Subjects(dctx))(t); slices.Contains(subs, "orders-value") {
		t.Errorf("Subjects after a hard delete: %v", subs)
	}
	// id 1 lives on under audit-value; id 2 is gone.
	must(cl.SchemaByID(ctx, 1))(t)
	if _, err := cl.SchemaByID(ctx, 2); code(err) != 40403 {
		t.Errorf("SchemaByID of a hard-deleted schema: %v, want 40403", err)
	}
	// A new schema gets an id never given before (100 was imported).
	n := must(cl.CreateSchema(ctx, "fresh-value", sr.Schema{Schema: `{"type":"fixed","name":"F","size":4}`}))(t)
	if n.ID != 101 {
		t.Errorf("a new schema's id: %d, want 101", n.ID)
	}
	if _, err := cl.Contexts(ctx); err != nil {
		t.Errorf("Contexts: %v", err)
	}
}

// TestRestart closes the registry and starts another on the same cluster: everything is back, and new ids
// are larger than every old one, also the hard-deleted ones.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	c := cluster(t)
	r := start(t, c)
	cl := client(t, r)
	must(cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: orderV1}))(t)
	must(cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: orderV2}))(t)
	must(cl.CreateSchema(ctx, "b-value", sr.Schema{Schema: item}))(t)
	gone := must(cl.CreateSchema(ctx, "gone-value", sr.Schema{Schema: `{"type":"fixed","name":"G","size":9}`}))(t)
	must(cl.DeleteSubject(ctx, "gone-value", sr.SoftDelete))(t)
	must(cl.DeleteSubject(ctx, "gone-value", sr.HardDelete))(t)
	noErr(t, cl.DeleteSchema(ctx, "a-value", 1, sr.SoftDelete))
	cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, "b-value")
	cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatForwardTransitive})
	cl.SetMode(ctx, sr.ModeReadOnly, "b-value")
	before := must(cl.AllSchemas(sr.WithParams(ctx, sr.ShowDeleted)))(t)

	r.Close()
	r = start(t, c)
	// Start returns once the topic is read to its end: everything is there before the first request.
	r.mu.RLock()
	nSubjects, maxID, pending := len(r.st.subjects), r.st.maxID, len(r.st.pending)
	r.mu.RUnlock()
	if pending != 0 {
		t.Errorf("%d schemas read back without their content keys: the next registration parses them all", pending)
	}
	if nSubjects != 2 || maxID != gone.ID {
		t.Errorf("when Start returned: %d subjects and max id %d, want 2 and %d", nSubjects, maxID, gone.ID)
	}
	cl = client(t, r)
	after := must(cl.AllSchemas(sr.WithParams(ctx, sr.ShowDeleted)))(t)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("after a restart:\n%v\nwant\n%v", after, before)
	}
	if vs := must(cl.SubjectVersions(ctx, "a-value"))(t); !slices.Equal(vs, []int{2}) {
		t.Errorf("a-value's live versions after a restart: %v, want [2] (1 soft-deleted)", vs)
	}
	if cr := cl.Compatibility(ctx, "b-value"); cr[0].Level != sr.CompatFull {
		t.Errorf("b-value's level after a restart: %v", cr[0].Level)
	}
	if cr := cl.Compatibility(ctx); cr[0].Level != sr.CompatForwardTransitive {
		t.Errorf("the global level after a restart: %v", cr[0].Level)
	}
	if m := cl.Mode(ctx, "b-value"); m[0].Mode != sr.ModeReadOnly {
		t.Errorf("b-value's mode after a restart: %v", m[0].Mode)
	}
	n := must(cl.CreateSchema(ctx, "c-value", sr.Schema{Schema: `{"type":"fixed","name":"H","size":3}`}))(t)
	if n.ID <= gone.ID {
		t.Errorf("a new id after a restart: %d, want more than %d (hard-deleted)", n.ID, gone.ID)
	}
}

// TestConcurrentRegister registers from many goroutines: versions are dense, ids unique.
func TestConcurrentRegister(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)
	noErr(t, cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone})[0].Err)
	const n = 40
	var wg sync.WaitGroup
	ids := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject := fmt.Sprintf("s%d-value", i%4)
			ss, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: fmt.Sprintf(`{"type":"fixed","name":"F%d","size":%d}`, i, i+1)})
			ids[i], errs[i] = ss.ID, err
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[ids[i]] {
			t.Errorf("id %d given twice", ids[i])
		}
		seen[ids[i]] = true
	}
	for s := range 4 {
		vs := must(cl.SubjectVersions(ctx, fmt.Sprintf("s%d-value", s)))(t)
		if !slices.Equal(vs, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
			t.Errorf("s%d-value's versions: %v, want 1..10", s, vs)
		}
	}
	for id := 1; id <= n; id++ {
		if !seen[id] {
			t.Errorf("ids are not dense: %d missing", id)
		}
	}
}

// TestWhitespace registers two texts of one schema that differ only in whitespace: one id.
func TestWhitespace(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)
	a := must(cl.CreateSchema(ctx, "x-value", sr.Schema{Schema: orderV1}))(t)
	spaced := "{\n  \"type\" : \"record\",\n  \"name\" : \"Order\",\n  \"namespace\" : \"shop\",\n  \"fields\" : [ { \"name\" : \"id\", \"type\" : \"string\" } ]\n}\n"
	b := must(cl.CreateSchema(ctx, "y-value", sr.Schema{Schema: spaced}))(t)
	if a.ID != b.ID {
		t.Errorf("the same schema with other whitespace: ids %d and %d", a.ID, b.ID)
	}
	again := must(cl.CreateSchema(ctx, "x-value", sr.Schema{Schema: spaced}))(t)
	if again.Version != 1 {
		t.Errorf("re-registering with other whitespace made version %d", again.Version)
	}
}

// TestHugeSchema: a valid schema too large for the broker's records gets 42209, and the registry goes on.
func TestHugeSchema(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)
	var b strings.Builder
	b.WriteString(`{"type":"record","name":"Huge","fields":[`)
	for i := 0; b.Len() < 1<<20+1000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"field_with_a_long_name_%06d","type":"string","doc":"a field of a huge schema"}`, i)
	}
	b.WriteString(`]}`)
	if _, err := cl.CreateSchema(ctx, "huge-value", sr.Schema{Schema: b.String()}); code(err) != 42209 {
		t.Errorf("a 1 MiB schema: %v (code %d), want 42209", err, code(err))
	}
	if _, err := cl.CreateSchema(ctx, "small-value", sr.Schema{Schema: orderV1}); err != nil {
		t.Errorf("registering after a huge schema: %v", err)
	}
	if subs := must(cl.Subjects(ctx))(t); !slices.Equal(subs, []string{"small-value"}) {
		t.Errorf("subjects: %v", subs)
	}
}

// TestQueryFlags: ?deletedOnly, ?fetchMaxId, ?subjectPrefix, ?latestOnly.
func TestQueryFlags(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)
	must(cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: orderV1}))(t)
	must(cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: orderV2}))(t)
	must(cl.CreateSchema(ctx, "b-value", sr.Schema{Schema: item}))(t)
	must(cl.DeleteSubject(ctx, "b-value", sr.SoftDelete))(t)
	for path, want := range map[string]string{
		"/subjects?deletedOnly=true":             `["b-value"]`,
		"/subjects?deleted=true":                 `["a-value","b-value"]`,
		"/subjects?subjectPrefix=b&deleted=true": `["b-value"]`,
		"/subjects":                              `["a-value"]`,
	} {
		if _, _, b := do(t, r, "GET", path, ""); string(b) != want {
			t.Errorf("GET %s: %s, want %s", path, b, want)
		}
	}
	if _, m, _ := do(t, r, "GET", "/schemas/ids/1?fetchMaxId=true", ""); m["maxId"] != float64(3) {
		t.Errorf("fetchMaxId: %v", m)
	}
	if all := must(cl.AllSchemas(sr.WithParams(ctx, sr.LatestOnly)))(t); len(all) != 1 || all[0].Version != 2 {
		t.Errorf("GET /schemas?latestOnly=true: %+v", all)
	}
}

// TestTypes registers JSON Schema and Protobuf schemas (with a reference), as Confluent's serializers do.
func TestTypes(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)
	js := must(cl.CreateSchema(ctx, "person-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`}))(t)
	if js.Type != sr.TypeJSON {
		t.Errorf("a JSON schema: %+v", js)
	}
	// A property removed from an open content model: BACKWARD compatible.
	must(cl.CreateSchema(ctx, "person-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"name":{"type":"string"}}}`}))(t)
	// A JSON schema registered under a subject of Avro schemas is a type change: refused under BACKWARD.
	must(cl.CreateSchema(ctx, "mixed-value", sr.Schema{Schema: orderV1}))(t)
	if _, err := cl.CreateSchema(ctx, "mixed-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"string"}`}); code(err) != 409 {
		t.Errorf("another type under BACKWARD: %v, want 409", err)
	}
	if _, err := cl.CreateSchema(ctx, "bad-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type": 12`}); code(err) != 42201 {
		t.Errorf("malformed JSON schema: %v, want 42201", err)
	}

	must(cl.CreateSchema(ctx, "money", sr.Schema{Type: sr.TypeProtobuf, Schema: "syntax = \"proto3\";\npackage shop;\nmessage Money { int64 cents = 1; string currency = 2; }\n"}))(t)
	pb := must(cl.CreateSchema(ctx, "payment-value", sr.Schema{
		Type:       sr.TypeProtobuf,
		Schema:     "syntax = \"proto3\";\npackage shop;\nimport \"money.proto\";\nmessage Payment { string id = 1; Money amount = 2; }\n",
		References: []sr.SchemaReference{{Name: "money.proto", Subject: "money", Version: 1}},
	}))(t)
	if pb.Type != sr.TypeProtobuf || len(pb.References) != 1 {
		t.Errorf("a Protobuf schema with an import: %+v", pb)
	}
	if _, err := cl.CreateSchema(ctx, "payment-value", sr.Schema{
		Type:       sr.TypeProtobuf,
		Schema:     "syntax = \"proto3\";\npackage shop;\nimport \"money.proto\";\nmessage Payment { int64 id = 1; Money amount = 2; }\n",
		References: []sr.SchemaReference{{Name: "money.proto", Subject: "money", Version: 1}},
	}); code(err) != 409 {
		t.Errorf("a Protobuf field's type changed: %v, want 409", err)
	}
	if _, err := cl.CreateSchema(ctx, "nope-value", sr.Schema{Type: sr.TypeProtobuf, Schema: "syntax = \"proto3\";\nmessage A { B b = 1; }\n"}); code(err) != 42201 || !strings.Contains(err.Error(), ":") {
		t.Errorf("an unresolvable Protobuf type: %v, want 42201 with line:col", err)
	}
	if by := must(cl.SchemaReferences(ctx, "money", 1))(t); len(by) != 1 {
		t.Errorf("referencedby money: %+v", by)
	}
}

// TestSubjectNames: subjects with characters a path escapes (a slash, a space, unicode) round-trip.
func TestSubjectNames(t *testing.T) {
	ctx := context.Background()
	r := start(t, cluster(t))
	cl := client(t, r)
	for _, s := range []string{"team/orders-value", "with space", "ünïcode-value", "a%2Fb"} {
		ss := must(cl.CreateSchema(ctx, s, sr.Schema{Schema: orderV1}))(t)
		if ss.Subject != s {
			t.Errorf("subject %q came back as %q", s, ss.Subject)
		}
		if got := must(cl.SchemaByVersion(ctx, s, 1))(t); got.Subject != s {
			t.Errorf("GET version of %q: %+v", s, got)
		}
	}
}
