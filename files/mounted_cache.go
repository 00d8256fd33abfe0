package files

import (
	"strings"
	"sync"
	"time"
)

// Folders of mounts seen to exist are remembered for dirCacheTTL, so
// that an upload into a folder that another upload just went into (sftp
// put -r, a browser's folder upload) does not ask the remote about the
// folder again: on S3 that is a request per file (1,000 × 4 KiB into
// one folder: see BENCHMARKS.md). A folder removed by someone else in
// that time fails the upload at the remote (SFTP, FTP) or, on S3, where
// folders are prefixes, appears again with the file.
const (
	dirCacheTTL = 5 * time.Second
	dirCacheMax = 10000
)

// dirCache maps a mount id and remote folder to when it was seen.
type dirCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func dirKey(mountID, rpath string) string { return mountID + "\x00" + rpath }

func (c *dirCache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, ok := c.m[key]
	return ok && time.Since(seen) < dirCacheTTL
}

func (c *dirCache) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= dirCacheMax {
		c.m = map[string]time.Time{}
	}
	c.m[key] = time.Now()
}

// forget drops key and every folder below it (a folder removed or
// renamed); the key of a mount's root drops all of that mount's.
func (c *dirCache) forget(key string) {
	below := key + "/"
	if strings.HasSuffix(key, "\x00") {
		below = key
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k == key || strings.HasPrefix(k, below) {
			delete(c.m, k)
		}
	}
}
