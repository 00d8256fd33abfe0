package bench

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"depot/files"
	"depot/mft"
	"depot/store"
)

// BenchmarkUpload4K uploads 4 KiB files through the file service with 16
// goroutines, without and with the audit log, to isolate what auditing
// every upload costs.
func BenchmarkUpload4K(b *testing.B) {
	for _, audited := range []bool{false, true} {
		b.Run(fmt.Sprintf("audit=%v", audited), func(b *testing.B) {
			dir := b.TempDir()
			db := store.NewDB(filepath.Join(dir, "depot.db"))
			if err := db.Open(); err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			svc, err := files.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			svc.Permissions, svc.Usage, svc.Folders = store.NewPermissionService(db), store.NewUsageService(db), store.NewFolderService(db)
			if audited {
				log := &store.AuditLog{Service: store.NewAuditService(db)}
				log.Open()
				defer log.Close()
				svc.Events = log
			}
			a := files.Actor{User: &mft.User{ID: "admin", Role: mft.RoleAdmin, Home: "/"}, Protocol: mft.AuditAPI}
			ctx := context.Background()
			if _, err := svc.Mkdir(ctx, a, "/bench"); err != nil {
				b.Fatal(err)
			}
			body := bytes.Repeat([]byte("x"), 4096)
			var n atomic.Int64
			b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 goroutines
			b.SetBytes(4096)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := fmt.Sprintf("/bench/%08d.bin", n.Add(1))
					if _, err := svc.Upload(ctx, a, p, bytes.NewReader(body), files.UploadOptions{Overwrite: true, Size: 4096}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
