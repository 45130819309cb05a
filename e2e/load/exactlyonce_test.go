package load

import (
	"reflect"
	"testing"
)

func TestCount(t *testing.T) {
	for _, c := range []struct {
		name          string
		acked, stored []string
		want          Tally
	}{
		{"all once", []string{"a", "b"}, []string{"b", "a"}, Tally{Acked: 2, Stored: 2}},
		{"one lost", []string{"a", "b"}, []string{"a"}, Tally{Acked: 2, Stored: 1, Missing: []string{"b"}}},
		{"one twice", []string{"a"}, []string{"a", "a"}, Tally{Acked: 1, Twice: []string{"a"}}},
		{"stored, answer lost", []string{"a"}, []string{"a", "x"}, Tally{Acked: 1, Stored: 1, Extra: 1}},
		{"unacknowledged twice", nil, []string{"x", "x"}, Tally{Twice: []string{"x"}, Extra: 1}},
	} {
		got := Count(c.acked, c.stored)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
		if got.OK() != (len(c.want.Missing) == 0 && len(c.want.Twice) == 0) {
			t.Errorf("%s: OK() = %v", c.name, got.OK())
		}
	}
	sum := Count([]string{"a"}, nil).Add(Count([]string{"b"}, []string{"b", "b"}))
	if sum.Acked != 2 || len(sum.Missing) != 1 || len(sum.Twice) != 1 || sum.OK() {
		t.Errorf("Add: %+v", sum)
	}
}
