package schemas

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// javaVerdict is Java's answer for one line of the corpus: COMPATIBLE, INCOMPATIBLE (Details: each
// incompatibility as TYPE@location), ERROR (Details: the exception), or OK for a parse.
type javaVerdict struct {
	Verdict, Details string
}

// runJavaAvro runs testdata/avrojava/AvroCompat.java over lines (see its comment) in one JVM and returns
// its verdicts by id. It skips (or fails under DEVSTACK_REQUIRE_ALL=1) when java, javac or Apache Avro's
// jars (scripts/avro-jars.sh, run by make test-deps) are missing.
func runJavaAvro(t *testing.T, lines []string) map[string]javaVerdict {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		testkit.SkipOrFail(t, "needs java 17+ for the Avro differential test: %v", err)
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		testkit.SkipOrFail(t, "needs javac (a JDK 17+) for the Avro differential test: %v", err)
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		if _, serr := os.Stat(avroJarsCache()); serr != nil {
			testkit.SkipOrFail(t, "needs mvn to fetch Apache Avro's jars (or them in %s; make test-deps): %v", avroJarsCache(), err)
		}
	}
	cmd := exec.Command(filepath.Join(testkit.RepoRoot(), "scripts", "avro-jars.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/avro-jars.sh: %v\n%s", err, stderr.String())
	}
	libs := strings.TrimSpace(string(out))
	jars, err := filepath.Glob(filepath.Join(libs, "*.jar"))
	if err != nil || len(jars) == 0 {
		t.Fatalf("no jars in %s (from scripts/avro-jars.sh): %v", libs, err)
	}
	classpath := strings.Join(jars, string(os.PathListSeparator))

	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "avrojava", "AvroCompat.java"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", dir, "-cp", classpath, src).CombinedOutput(); err != nil {
		t.Fatalf("javac AvroCompat.java: %v\n%s", err, out)
	}
	input := filepath.Join(dir, "corpus.tsv")
	if err := os.WriteFile(input, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(t.Context(), java, "-cp", dir+string(os.PathListSeparator)+classpath, "AvroCompat", input)
	stderr.Reset()
	run.Stderr = &stderr
	out, err = run.Output()
	if err != nil {
		t.Fatalf("java AvroCompat: %v\n%s", err, stderr.String())
	}
	verdicts := map[string]javaVerdict{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) < 2 {
			t.Fatalf("java AvroCompat printed %q", sc.Text())
		}
		v := javaVerdict{Verdict: f[1]}
		if len(f) == 3 {
			v.Details = f[2]
		}
		verdicts[f[0]] = v
	}
	if len(verdicts) != len(lines) {
		t.Fatalf("java AvroCompat answered %d of %d cases\n%s", len(verdicts), len(lines), stderr.String())
	}
	return verdicts
}

func avroJarsCache() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "devstack", "avro", "1.12.2", "libs")
}

// goAvroVerdict is Go's answer in Java's terms: ERROR when a schema does not parse, else COMPATIBLE or
// INCOMPATIBLE with each problem as TYPE@location.
func goAvroVerdict(reader, writer string) (javaVerdict, []string) {
	r, err := Parse(Schema{Type: Avro, Text: reader})
	if err != nil {
		return javaVerdict{"ERROR", "reader: " + err.Error()}, nil
	}
	w, err := Parse(Schema{Type: Avro, Text: writer})
	if err != nil {
		return javaVerdict{"ERROR", "writer: " + err.Error()}, nil
	}
	msgs := avroCompatible(r.(*AvroSchema), w.(*AvroSchema))
	if len(msgs) == 0 {
		return javaVerdict{Verdict: "COMPATIBLE"}, nil
	}
	var details []string
	for _, m := range msgs {
		kind, rest, _ := strings.Cut(m, " at ")
		path, _, _ := strings.Cut(rest, ": ")
		details = append(details, kind+"@"+path)
	}
	return javaVerdict{"INCOMPATIBLE", strings.Join(details, " ")}, msgs
}

// TestAvroCompatibilityMatchesJava checks every pair of the generated corpus (avro_corpus_test.go) with
// Go and with Apache Avro's Java library (1.12.2, SchemaCompatibility.checkReaderWriterCompatibility, what
// Confluent's registry runs): the verdicts, and the incompatibilities' types and locations, must agree;
// and for every version chain, Check's verdict at every level must be the one Java's pairwise verdicts
// give. Every schema of the corpus must parse (or not) in both.
func TestAvroCompatibilityMatchesJava(t *testing.T) {
	cases, chains := avroCorpus()
	var lines []string
	schemas := map[string]bool{}
	for _, c := range cases {
		lines = append(lines, "C\t"+c.ID+"\t"+c.Reader+"\t"+c.Writer)
		schemas[c.Reader], schemas[c.Writer] = true, true
	}
	pairID := func(ch avroChain, r, w int) string { return fmt.Sprintf("%s r%d w%d", ch.ID, r, w) }
	for _, ch := range chains {
		for r := range ch.Versions {
			for w := range ch.Versions {
				if r != w {
					lines = append(lines, "C\t"+pairID(ch, r, w)+"\t"+ch.Versions[r]+"\t"+ch.Versions[w])
				}
			}
			schemas[ch.Versions[r]] = true
		}
	}
	for _, s := range avroParseCorpus {
		schemas[s] = true
	}
	var texts []string
	for s := range schemas {
		texts = append(texts, s)
	}
	slices.Sort(texts)
	for i, s := range texts {
		lines = append(lines, fmt.Sprintf("P\tparse %d\t%s", i, s))
	}
	java := runJavaAvro(t, lines)

	// Parses.
	parseErrs := 0
	for i, s := range texts {
		j := java[fmt.Sprintf("parse %d", i)]
		_, err := Parse(Schema{Type: Avro, Text: s})
		if why, ok := avroStricterThanJava[s]; ok {
			if err == nil || j.Verdict != "OK" {
				t.Errorf("listed as refused by Go only (%s): Go %v, Java %s %s\n  schema: %s", why, err, j.Verdict, j.Details, s)
			}
		} else if (err == nil) != (j.Verdict == "OK") {
			t.Errorf("parse disagrees: Go %v, Java %s %s\n  schema: %s", err, j.Verdict, j.Details, s)
		}
		if err != nil {
			parseErrs++
		}
	}

	// Pairs.
	var verdicts = map[string]int{}
	bad := 0
	for _, c := range cases {
		j := java[c.ID]
		g, msgs := goAvroVerdict(c.Reader, c.Writer)
		verdicts[j.Verdict]++
		same := g.Verdict == j.Verdict
		if j.Verdict == "ERROR" && g.Verdict == "INCOMPATIBLE" && strings.Contains(g.Details, "READER_FIELD_AMBIGUOUS") {
			same = true // Java throws where a reader field matches two writer fields; Go says so
		} else if same && g.Verdict == "INCOMPATIBLE" {
			same = sortedFields(g.Details) == sortedFields(j.Details)
		}
		if !same {
			bad++
			t.Errorf("%s: Go %s %s, Java %s %s\n  reader: %s\n  writer: %s\n  Go says: %q", c.ID, g.Verdict, g.Details, j.Verdict, j.Details, c.Reader, c.Writer, msgs)
		}
	}

	// Chains: each version as the candidate after the ones before it, at every level.
	levels := 0
	for _, ch := range chains {
		parsed := make([]Parsed, len(ch.Versions))
		for i, v := range ch.Versions {
			p, err := Parse(Schema{Type: Avro, Text: v})
			if err != nil {
				parsed = nil
				break
			}
			parsed[i] = p
		}
		if parsed == nil {
			continue
		}
		ok := func(r, w int) bool { return java[pairID(ch, r, w)].Verdict == "COMPATIBLE" }
		for n := 1; n < len(ch.Versions); n++ {
			for _, level := range Levels {
				want := true
				for e := range n {
					if level != None && !strings.HasSuffix(string(level), "_TRANSITIVE") && e != n-1 {
						continue
					}
					switch level {
					case Backward, BackwardTransitive:
						want = want && ok(n, e)
					case Forward, ForwardTransitive:
						want = want && ok(e, n)
					case Full, FullTransitive:
						want = want && ok(n, e) && ok(e, n)
					}
				}
				got := Check(level, parsed[n], parsed[:n])
				levels++
				if (len(got) == 0) != want {
					t.Errorf("%s: version %d at %s: Go says %q, Java's pairwise verdicts say compatible=%v\n  versions: %s", ch.ID, n, level, got, want, strings.Join(ch.Versions[:n+1], "\n            "))
				}
			}
		}
	}
	t.Logf("%d pairs (%v from Java), %d disagree; %d schemas (%d do not parse); %d chain checks at the seven levels", len(cases), verdicts, bad, len(texts), parseErrs, levels)
}

func sortedFields(s string) string {
	f := strings.Fields(s)
	slices.Sort(f)
	return strings.Join(slices.Compact(f), " ")
}
