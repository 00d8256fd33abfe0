package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// After a crash, start-up recounts usage from the disk, so files written
// behind the server's back count toward the quota; `depot fsck` does the
// same by hand and refuses to run beside a server.
func TestEndToEnd_UncleanStartAndFsck(t *testing.T) {
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	p := startDepot(t, data)
	userID, apiKey := p.createUser(t, `{"user":{"email":"q@example.com","quota_mb":1}}`)
	user := []string{"--user", apiKey + ":x"}
	upload := func(p *depotProcess, name string, size int) int {
		f := filepath.Join(t.TempDir(), name)
		os.WriteFile(f, make([]byte, size), 0o600)
		code, _ := curl(t, append(user, "-T", f, p.url+"/api/files/content?path=/"+name)...)
		return code
	}
	if code := upload(p, "a.bin", 400<<10); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	fsck := exec.Command(bin, "fsck")
	fsck.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data)
	if out, err := fsck.CombinedOutput(); err == nil {
		t.Fatalf("fsck ran beside a live server:\n%s", out)
	}
	p.cmd.Process.Kill()
	<-p.done
	// Written while the server was down, as by a restore.
	if err := os.WriteFile(filepath.Join(data, "files", "users", userID, "restored.bin"), make([]byte, 500<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	p = startDepot(t, data)
	if code := upload(p, "b.bin", 200<<10); code != 507 {
		t.Fatalf("after an unclean start, an upload over the recounted quota answered %d, want 507", code)
	}
	p.stop(t)
	os.WriteFile(filepath.Join(data, "tmp", ".upload-leftover"), []byte("x"), 0o600)
	fsck = exec.Command(bin, "fsck")
	fsck.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data)
	out, err := fsck.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 files, 921600 bytes") || !strings.Contains(string(out), "1 leftover") {
		t.Fatalf("fsck: %v\n%s", err, out)
	}
}

// Automation runs are stored before they run: one running and one queued
// when the process is killed both run after the restart.
func TestEndToEnd_AutomationJobsSurviveSIGKILL(t *testing.T) {
	var mu sync.Mutex
	var got []string
	release := make(chan struct{})
	first := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		n := len(got)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release // hold the first run until the process is gone
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	data := t.TempDir()
	p := startDepot(t, data, "DEPOT_AUTOMATION_WORKERS=1")
	admin := []string{"--user", e2eAdminKey + ":x"}
	code, body := curl(t, append(admin, "-X", "POST", "-d",
		`{"automation":{"name":"notify","trigger":"manual","actions":[{"type":"webhook","url":"`+recv.URL+`"}]}}`, p.url+"/admin/automations")...)
	if code != 201 {
		t.Fatalf("create automation: %d %s", code, body)
	}
	var a struct{ Automation struct{ ID string } }
	json.Unmarshal([]byte(body), &a)
	runURL := p.url + "/admin/automations/" + a.Automation.ID + "/run"
	var runIDs []string
	for range 2 {
		code, body = curl(t, append(admin, "-X", "POST", runURL)...)
		if code != 202 {
			t.Fatalf("run: %d %s", code, body)
		}
		var r struct{ Run struct{ ID string } }
		json.Unmarshal([]byte(body), &r)
		runIDs = append(runIDs, r.Run.ID)
	}
	<-first // run 1 is running, run 2 waits for the one worker
	p.cmd.Process.Kill()
	<-p.done
	close(release)

	p = startDepot(t, data)
	for {
		code, body = curl(t, append(admin, p.url+"/admin/automations/"+a.Automation.ID+"/runs")...)
		if code != 200 {
			t.Fatalf("runs: %d %s", code, body)
		}
		var runs []struct{ Run struct{ ID, Status string } }
		json.Unmarshal([]byte(body), &runs)
		done := map[string]bool{}
		for _, r := range runs {
			if r.Run.Status == "succeeded" {
				done[r.Run.ID] = true
			}
		}
		if len(runs) == 2 && done[runIDs[0]] && done[runIDs[1]] {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	runsSeen := map[string]bool{}
	for _, b := range got {
		for _, id := range runIDs {
			if strings.Contains(b, id) {
				runsSeen[id] = true
			}
		}
	}
	if len(runsSeen) != 2 {
		t.Fatalf("the receiver saw runs %v, want both %v", runsSeen, runIDs)
	}
}
