package kafkaname

import (
	"regexp"
	"strings"
	"testing"
)

func TestCheckTopic(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"orders.created_v2-x", true},
		{"...", true},
		{".hidden", true},
		{strings.Repeat("a", 249), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../../x", false},
		{"a/b", false},
		{"with space", false},
		{"ümlaut", false},
		{"tab\t", false},
		{strings.Repeat("a", 250), false},
	}
	re := regexp.MustCompile(TopicPattern)
	for _, tc := range tests {
		if err := CheckTopic(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckTopic(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if tc.name == "." || tc.name == ".." {
			continue // the schema's pattern cannot refuse these
		}
		if schemaOK := re.MatchString(tc.name) && len(tc.name) <= MaxTopicLen; schemaOK != tc.ok {
			t.Errorf("TopicPattern and MaxTopicLen say %v for %q, CheckTopic says %v", schemaOK, tc.name, tc.ok)
		}
	}
}
