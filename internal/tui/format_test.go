package tui

import "testing"

func TestScrollOffset(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		offset, cursor, bodyH, n, want int
	}{
		{"cursor in view", 2, 4, 5, 20, 2},
		{"cursor above", 6, 3, 5, 20, 3},
		{"cursor below", 0, 7, 5, 20, 3},
		{"last rows fill the body", 18, 19, 5, 20, 15},
		{"fewer rows than the body", 3, 1, 10, 4, 0},
		{"list shrank under the offset", 12, 2, 5, 6, 1},
	} {
		if got := scrollOffset(tc.offset, tc.cursor, tc.bodyH, tc.n); got != tc.want {
			t.Errorf("%s: scrollOffset(%d, %d, %d, %d) = %d, want %d", tc.name, tc.offset, tc.cursor, tc.bodyH, tc.n, got, tc.want)
		}
	}
}
