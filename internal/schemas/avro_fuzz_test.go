package schemas

import (
	"slices"
	"strings"
	"testing"
)

// avroFuzzSeeds are schemas of every kind (and some broken ones) the fuzzers start from.
func avroFuzzSeeds() []string {
	cases, chains := avroCorpus()
	seeds := slices.Clone(avroParseCorpus)
	for i, c := range cases {
		if i%7 == 0 {
			seeds = append(seeds, c.Reader, c.Writer)
		}
	}
	for _, ch := range chains[:5] {
		seeds = append(seeds, ch.Versions...)
	}
	return append(seeds,
		`{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"],"default":null}]}`,
		"{\n\"type\": \"record\",", strings.Repeat("[", 300), `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1e400}]}`)
}

// FuzzParseAvro: any text parses or is refused with a *ParseError, never a panic; what parses has
// canonical and normalized forms, and the normalized form parses to itself.
func FuzzParseAvro(f *testing.F) {
	for _, s := range avroFuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := parseAvro(Schema{Type: Avro, Text: text})
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if strings.Contains(err.Error(), "the parser failed") {
				t.Fatalf("parseAvro recovered from a panic: %v", err) // a bug to fix, not to hide
			}
			return
		}
		n := p.Normalized()
		if p.Canonical() == "" || n == "" {
			t.Fatalf("empty canonical %q or normalized %q form", p.Canonical(), n)
		}
		q, err := parseAvro(Schema{Type: Avro, Text: n})
		if err != nil {
			t.Fatalf("normalized form %s does not parse: %v", n, err)
		}
		if q.Normalized() != n {
			t.Fatalf("normalizing twice changed it:\n  %s\n  %s", n, q.Normalized())
		}
	})
}

// FuzzAvroCompatible: checking any two schemas that parse, either way round, never panics nor loops,
// and a schema is always compatible with itself.
func FuzzAvroCompatible(f *testing.F) {
	seeds := avroFuzzSeeds()
	for i := range seeds {
		f.Add(seeds[i], seeds[(i*7+3)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		pa, err := parseAvro(Schema{Type: Avro, Text: a})
		if err != nil {
			return
		}
		if got := avroCompatible(pa, pa); len(got) != 0 {
			t.Fatalf("%s is not compatible with itself: %q", a, got)
		}
		pb, err := parseAvro(Schema{Type: Avro, Text: b})
		if err != nil {
			return
		}
		for _, level := range Levels {
			Check(level, pa, []Parsed{pb, pa})
		}
	})
}
