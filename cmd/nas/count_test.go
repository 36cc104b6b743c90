package main

import "testing"

func TestCounts(t *testing.T) {
	for _, c := range []struct {
		v            int64
		human, exact string
	}{
		{96, "96", "96"},
		{1000, "1k", "1k"},
		{103786, "104k", "103786"},
		{7525760, "7.53M", "7525760"},
		{999999, "1M", "999999"},
		{20000000, "20M", "20M"},
		{1500000000, "1.5G", "1.5G"},
		{2500000000000, "2500G", "2500000000000"},
	} {
		if got := humanCount(c.v); got != c.human {
			t.Errorf("humanCount(%d) = %q, want %q", c.v, got, c.human)
		}
		if got := countFlag(c.v).String(); got != c.exact {
			t.Errorf("countFlag(%d) = %q, want %q", c.v, got, c.exact)
		}
		var back countFlag
		if err := back.Set(countFlag(c.v).String()); err != nil || int64(back) != c.v {
			t.Errorf("Set(%q) = %d, %v; want %d", countFlag(c.v).String(), back, err, c.v)
		}
	}
	for _, bad := range []string{"", "x", "2x", "-1", "1.5", "0.0001k", "1e30G", "M"} {
		var c countFlag
		if err := c.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, c)
		}
	}
}
