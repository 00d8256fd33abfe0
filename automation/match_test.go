package automation

import (
	"testing"
	"time"

	"depot/mft"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"/users/**/in/*", "/users/joe/in/a.csv", true},
		{"/users/**/in/*", "/users/joe/deep/er/in/a.csv", true},
		{"/users/**/in/*", "/users/joe/out/a.csv", false},
		{"/users/**/in/*", "/users/joe/in/sub/a.csv", false},
		{"**/*.csv", "/a/b/c.csv", true},
		{"**", "/anything/at/all", true},
		{"/a/*.csv", "/a/b/c.csv", false},
		{"/a/?.csv", "/a/b.csv", true},
	} {
		if got := Glob(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	min, max := int64(10), int64(100)
	ev := mft.Event{Event: mft.EventFileUploaded, Path: "/users/joe/in/Report.CSV", Size: 50, Actor: "joe", Bucket: "buc_1", Time: now.Add(-time.Hour)}
	groups := func(id string) []string {
		if id == "joe" {
			return []string{"finance"}
		}
		return nil
	}
	for _, tc := range []struct {
		c    mft.Condition
		want bool
	}{
		{mft.Condition{Type: "name", Pattern: "*.csv"}, true},
		{mft.Condition{Type: "name", Pattern: "*.csv", Negate: true}, false},
		{mft.Condition{Type: "path", Pattern: "/users/*/in/*"}, true},
		{mft.Condition{Type: "size", Min: &min, Max: &max}, true},
		{mft.Condition{Type: "size", Max: &min}, false},
		{mft.Condition{Type: "user", Value: "joe"}, true},
		{mft.Condition{Type: "group", Value: "finance"}, true},
		{mft.Condition{Type: "group", Value: "hr"}, false},
		{mft.Condition{Type: "bucket", Value: "buc_1"}, true},
		{mft.Condition{Type: "age", Older: "30m"}, true},
		{mft.Condition{Type: "age", Older: "2h"}, false},
	} {
		if got := matchEvent([]mft.Condition{tc.c}, ev, now, groups); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	got := expand("/archive/{USER}/{YYYY}/{MM}/{DD}/{HH}{mm}{ss}-{BASENAME}.{EXT}|{NAME}|{DIR}|{BUCKET}|{TIMESTAMP}", "/users/joe/in/a.b.csv", "joe", "buc_1", now)
	want := "/archive/joe/2026/03/04/050607-a.b.csv|a.b.csv|/users/joe/in|buc_1|1772600767"
	if got != want {
		t.Fatalf("expand = %q, want %q", got, want)
	}
}

func TestSchedule(t *testing.T) {
	for _, spec := range []string{"@every 5m", "@daily", "0 2 * * *", "*/15 * * * 1-5"} {
		if err := CheckSchedule(spec, "Europe/Berlin"); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
	for _, tc := range [][2]string{{"every day", ""}, {"0 2 * *", ""}, {"@daily", "Mars/Olympus"}, {"61 * * * *", ""}} {
		if err := CheckSchedule(tc[0], tc[1]); err == nil {
			t.Errorf("%q in %q accepted", tc[0], tc[1])
		}
	}
	// @every fires on multiples of its period (so that every node names
	// the same ticks), not a period after it was loaded.
	every, _ := Schedule("@every 5m", "")
	if next := every.Next(time.Date(2026, 11, 23, 10, 2, 13, 5, time.UTC)); !next.Equal(time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)) {
		t.Fatalf("@every 5m after 10:02:13 fires at %v; want 10:05:00", next)
	}
	// A daily schedule in Berlin fires at 02:00 local time.
	s, _ := Schedule("0 2 * * *", "Europe/Berlin")
	next := s.Next(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("next = %v, want %v", next, want)
	}
}
