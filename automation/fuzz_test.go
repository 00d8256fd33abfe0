package automation

import (
	"strings"
	"testing"
	"time"

	"depot/mft"
)

// FuzzSchedule: a cron expression and time zone either parse into a
// schedule whose next run is after now (or never), or are refused with a
// message; nothing panics.
func FuzzSchedule(f *testing.F) {
	for _, s := range [][2]string{{"0 2 * * *", ""}, {"@every 5m", "Europe/Paris"}, {"@hourly", "UTC"}, {"*/0 * * * *", ""},
		{"0 0 30 2 *", ""}, {"TZ=Nowhere 0 * * * *", ""}, {"@every 0s", ""}, {"60 * * * *", "../../etc/passwd"}, {"", "Local"}} {
		f.Add(s[0], s[1])
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec, tz string) {
		s, err := Schedule(spec, tz)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if next := s.Next(now); !next.IsZero() && !next.After(now) {
			t.Fatalf("Schedule(%q, %q).Next(%v) = %v", spec, tz, now, next)
		}
	})
}

// FuzzConditions: any condition either fails validation with a message or
// is evaluated against events and files without a panic; ** patterns take
// polynomial time however many there are.
func FuzzConditions(f *testing.F) {
	f.Add("path", "/users/**/in/*.csv", "/users/joe/in/a.csv", "", int64(0))
	f.Add("name", "*.CSV", "/x/report.csv", "", int64(10))
	f.Add("name", "[", "/x", "", int64(0))
	f.Add("age", "", "/x", "10m", int64(0))
	f.Add("size", "", "/x", "", int64(-1))
	f.Add("path", strings.Repeat("**/a/", 40)+"b", strings.Repeat("/a", 200), "", int64(0))
	f.Fuzz(func(t *testing.T, typ, pattern, p, older string, n int64) {
		c := mft.Condition{Type: typ, Pattern: pattern, Value: pattern, Older: older, Min: &n}
		a := mft.Automation{Name: "f", Trigger: "event", Events: []string{mft.EventFileUploaded}, Conditions: []mft.Condition{c},
			Actions: []mft.Action{{Type: "delete"}}}
		if err := a.Validate(CheckSchedule); err != nil {
			if mft.ErrorMessage(err) == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		now := time.Now()
		ev := mft.Event{Event: mft.EventFileUploaded, Path: p, Actor: pattern, Size: n, Time: now}
		matchEvent(a.Conditions, ev, now, func(string) []string { return []string{pattern} })
		matchFile(a.Conditions, mft.FileInfo{Path: p, Size: n, ModifiedAt: now.Add(-time.Hour)}, now)
		Glob(pattern, p)
	})
}
