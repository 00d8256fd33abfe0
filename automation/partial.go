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
type partials struct {
	mu sync.Mutex
	m  map[string]*files.Pending
}

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

// drop aborts the downloads kept for run ("" for every run).
func (p *partials) drop(run string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, u := range p.m {
		if run == "" || strings.HasPrefix(k, run+"\x00") {
			u.Abort()
			delete(p.m, k)
		}
	}
}
