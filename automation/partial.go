package automation

import (
	"strings"
	"sync"

	"depot/files"
)

// partials keeps the downloads a broken connection interrupted, so that
// the run's next attempt continues each where it stopped (SFTP offset,
// FTP REST, S3 ranged GET) instead of fetching it again. They live as
// long as the run: its success or final failure drops what is left, as
// does a restart (staging files do not survive one).
//
// What a broken upload left on a remote (a temporary file, an S3
// multipart upload) is remembered too, to discard when the run fails for
// good; it outlives a restart, when the next attempt (SFTP: the same
// temporary name; S3: the matching parts) finds it again.
type partials struct {
	mu   sync.Mutex
	m    map[string]*files.Pending
	left map[string]leftover
}

// leftover is what an upload may leave on a connection.
type leftover struct{ conn, path string }

func partialKey(run, remotePath, version string) string {
	return run + "\x00" + remotePath + "\x00" + version
}

// take removes and returns the download kept under key, if any.
func (p *partials) take(key string) *files.Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.m[key]
	delete(p.m, key)
	return u
}

// keep holds u for the next attempt of its run.
func (p *partials) keep(key string, u *files.Pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*files.Pending{}
	}
	if old := p.m[key]; old != nil && old != u {
		old.Abort()
	}
	p.m[key] = u
}

// leave remembers l under key (run first; the zero leftover forgets
// it) and returns what was there.
func (p *partials) leave(key string, l leftover) leftover {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.left[key]
	if l.path == "" {
		delete(p.left, key)
	} else {
		if p.left == nil {
			p.left = map[string]leftover{}
		}
		p.left[key] = l
	}
	return old
}

// drop aborts the downloads kept for run ("" for every run) and returns
// the leftovers of run on remotes, forgotten.
func (p *partials) drop(run string) []leftover {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, u := range p.m {
		if run == "" || strings.HasPrefix(k, run+"\x00") {
			u.Abort()
			delete(p.m, k)
		}
	}
	var out []leftover
	for k, l := range p.left {
		if run != "" && strings.HasPrefix(k, run+"\x00") {
			out = append(out, l)
			delete(p.left, k)
		}
	}
	return out
}
