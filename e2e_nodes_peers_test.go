package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

// hookCounter is a webhook receiver that counts the automation webhook
// action's POSTs by file path; while held, POSTs wait.
type hookCounter struct {
	mu     sync.Mutex
	paths  map[string]int
	held   chan struct{} // nil: not held
	server *httptest.Server
}

func newHookCounter(t *testing.T) *hookCounter {
	h := &hookCounter{paths: map[string]int{}}
	h.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				File struct{ Path string } `json:"file"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		h.mu.Lock()
		held := h.held
		h.mu.Unlock()
		if held != nil {
			<-held
		}
		h.mu.Lock()
		h.paths[body.Data.File.Path]++
		h.mu.Unlock()
	}))
	t.Cleanup(func() { h.release(); h.server.Close() })
	return h
}

func (h *hookCounter) hold() {
	h.mu.Lock()
	h.held = make(chan struct{})
	h.mu.Unlock()
}

func (h *hookCounter) release() {
	h.mu.Lock()
	if h.held != nil {
		close(h.held)
		h.held = nil
	}
	h.mu.Unlock()
}

func (h *hookCounter) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.paths[path]
}

// partnerSFTP connects as the partner to addr and notes the host key it
// was shown.
func partnerSFTP(t *testing.T, addr string, keys *sync.Map) (*sftp.Client, error) {
	conn, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "partner", Auth: []gossh.AuthMethod{gossh.Password("correct-horse")},
		HostKeyCallback: func(_ string, _ net.Addr, key gossh.PublicKey) error {
			keys.Store(string(key.Marshal()), true)
			return nil
		}, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// callNode runs curl with args against node, the last arg the route, and
// returns the body of the answer, which must have status want.
func callNode(t *testing.T, node *depotProcess, want int, args ...string) string {
	t.Helper()
	code, body := curl(t, append(append([]string{}, args[:len(args)-1]...), node.url+args[len(args)-1])...)
	if code != want {
		t.Fatalf("%v on %s: %d %s; want %d", args, node.url, code, body, want)
	}
	return body
}

func putFile(c *sftp.Client, name, content string) error {
	f, err := c.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(content)); err != nil {
		f.Close()
		return err
	}
	return f.Close() // the server's answer to the close is the acknowledgement
}
