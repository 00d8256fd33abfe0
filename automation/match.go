package automation

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"depot/mft"
)

// parser reads standard five-field cron expressions and descriptors such
// as @every 5m, @hourly and @daily.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule parses a cron expression in a time zone (empty: UTC).
func Schedule(spec, tz string) (sched cron.Schedule, err error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("%q: give the time zone in timezone, not in the expression", spec)
	}
	// robfig/cron's parser has panicked on malformed input ("TZ=x" without
	// a space, found by FuzzSchedule): any panic is a refusal.
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q is not a cron expression such as \"0 2 * * *\" or \"@every 5m\"", spec)
		}
	}()
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			return nil, fmt.Errorf("timezone %q is not a time zone such as Europe/Berlin", tz)
		}
		if !strings.HasPrefix(spec, "@every") {
			spec = "CRON_TZ=" + tz + " " + spec
		}
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron expression such as \"0 2 * * *\" or \"@every 5m\": %v", spec, err)
	}
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		return aligned(every.Delay), nil
	}
	return s, nil
}

// aligned is @every d on the multiples of d since the zero time (UTC
// midnight, for a d that divides a day), rather than d after the last
// firing: every node fires at the same times, so that one claims each
// tick.
type aligned time.Duration

func (d aligned) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(d)).Add(time.Duration(d))
}

// CheckSchedule is Schedule for mft.Automation.Validate.
func CheckSchedule(spec, tz string) error {
	_, err := Schedule(spec, tz)
	return err
}

// subject is what conditions look at: a file and who or what caused it.
type subject struct {
	path, user, bucket string
	protocol           string // the event's; "" for a source folder's file
	size               int64
	modified           time.Time
	hasFile            bool
	groups             func(user string) []string // the groups of a user
}

// matchEvent applies the conditions to an event's file.
func matchEvent(conds []mft.Condition, ev mft.Event, now time.Time, groups func(string) []string) bool {
	p := ev.Path
	if ev.NewPath != "" {
		p = ev.NewPath
	}
	return match(conds, subject{path: p, user: ev.Actor, bucket: ev.Bucket, protocol: ev.Protocol, size: ev.Size, modified: ev.Time,
		hasFile: p != "", groups: groups}, now)
}

// matchFile applies the conditions to a file of a source folder.
func matchFile(conds []mft.Condition, fi mft.FileInfo, now time.Time) bool {
	return match(conds, subject{path: fi.Path, size: fi.Size, modified: fi.ModifiedAt, hasFile: true,
		groups: func(string) []string { return nil }}, now)
}

func match(conds []mft.Condition, s subject, now time.Time) bool {
	for _, c := range conds {
		if holds(c, s, now) == c.Negate {
			return false
		}
	}
	return true
}

func holds(c mft.Condition, s subject, now time.Time) bool {
	switch c.Type {
	case "path":
		return s.hasFile && Glob(c.Pattern, s.path)
	case "name":
		ok, _ := path.Match(strings.ToLower(c.Pattern), strings.ToLower(path.Base(s.path)))
		return s.hasFile && ok
	case "size":
		return s.hasFile && (c.Min == nil || s.size >= *c.Min) && (c.Max == nil || s.size <= *c.Max)
	case "user":
		return s.user == c.Value
	case "group":
		return s.user != "" && slices.Contains(s.groups(s.user), c.Value)
	case "bucket":
		return s.bucket == c.Value
	case "protocol":
		return s.protocol == c.Value
	case "age":
		d, _ := time.ParseDuration(c.Older)
		return s.hasFile && !s.modified.IsZero() && now.Sub(s.modified) >= d
	}
	return false
}

// Glob matches a slash-separated path against a pattern in which * and ?
// stay within one segment and ** spans any number of segments.
func Glob(pattern, name string) bool {
	var pat []string
	for _, p := range strings.Split(strings.Trim(pattern, "/"), "/") {
		if p == "**" && len(pat) > 0 && pat[len(pat)-1] == "**" {
			continue // **/** is **
		}
		pat = append(pat, p)
	}
	segs := strings.Split(strings.Trim(name, "/"), "/")
	// failed remembers the (pattern, name) positions after a ** that
	// cannot match, so that many ** cost polynomial, not exponential, time.
	failed := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(pat) {
			if pat[i] == "**" {
				if failed[[2]int{i, j}] {
					return false
				}
				for k := j; k <= len(segs); k++ {
					if match(i+1, k) {
						return true
					}
				}
				failed[[2]int{i, j}] = true
				return false
			}
			if j == len(segs) {
				return false
			}
			if ok, _ := path.Match(pat[i], segs[j]); !ok {
				return false
			}
			i, j = i+1, j+1
		}
		return j == len(segs)
	}
	return match(0, 0)
}

// expand fills the placeholders of a destination for a file at p.
func expand(pattern, p, user, bucket string, now time.Time) string {
	return strings.NewReplacer(placeholders(p, user, bucket, now)...).Replace(pattern)
}

// placeholders are the pairs expand replaces.
func placeholders(p, user, bucket string, now time.Time) []string {
	name := path.Base(p)
	ext := strings.TrimPrefix(path.Ext(name), ".")
	base := strings.TrimSuffix(name, path.Ext(name))
	return []string{
		"{NAME}", name, "{BASENAME}", base, "{EXT}", ext, "{DIR}", path.Dir(p),
		"{USER}", user, "{BUCKET}", bucket,
		"{YYYY}", now.Format("2006"), "{MM}", now.Format("01"), "{DD}", now.Format("02"),
		"{HH}", now.Format("15"), "{mm}", now.Format("04"), "{ss}", now.Format("05"),
		"{TIMESTAMP}", fmt.Sprint(now.Unix()),
	}
}
