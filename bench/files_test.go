package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"depot/files"
	"depot/internal/apptest"
	"depot/mft"
	"depot/store"
)

// behind hides the audit log's PublishDurable: events are written behind
// the answer, within the batch interval, as before uploads waited for
// their record.
type behind struct{ log *store.AuditLog }

func (b behind) Publish(ev mft.Event) { b.log.Publish(ev) }

// BenchmarkUpload4K uploads 4 KiB files (synced, as data.sync_uploads
// does by default) through the file service, one at a time and with 16
// goroutines, without an audit log, with the audit written behind the
// answer, and with the answer waiting for its durable audit record (what
// Depot does), to isolate what each costs.
func BenchmarkUpload4K(b *testing.B) {
	for _, clients := range []int{1, 16} {
		for _, audit := range []string{"none", "behind", "durable"} {
			b.Run(fmt.Sprintf("clients=%d/audit=%s", clients, audit), func(b *testing.B) {
				benchUpload(b, clients, audit)
			})
		}
	}
}

func benchUpload(b *testing.B, clients int, audit string) {
	svc := apptest.Start(b, nil).Files
	switch log := svc.Events.(mft.MultiSink)[0].(*store.AuditLog); audit {
	case "none":
		svc.Events = nil
	case "behind":
		svc.Events = behind{log}
	default:
		svc.Events = log
	}
	a := files.Actor{User: &mft.User{ID: "admin", Role: mft.RoleAdmin, Home: "/"}, Protocol: mft.AuditAPI}
	ctx := context.Background()
	if _, err := svc.Mkdir(ctx, a, "/bench"); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	var n atomic.Int64
	upload := func() {
		p := fmt.Sprintf("/bench/%08d.bin", n.Add(1))
		if _, err := svc.Upload(ctx, a, p, bytes.NewReader(body), files.UploadOptions{Overwrite: true, Size: 4096}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(4096)
	b.ResetTimer()
	if clients == 1 {
		for b.Loop() {
			upload()
		}
	} else {
		b.SetParallelism(clients / 2) // × GOMAXPROCS(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				upload()
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
