package app

import (
	"context"
)

// gauges registers what the metrics read at each scrape, and the
// webhook deliveries' latency.
func (a *App) gauges() {
	m := a.Metrics
	a.Engine.ObserveWebhook = m.ObserveWebhook
	m.Gauge("depot_sftp_sessions", "Live SFTP sessions.", func() float64 { return float64(len(a.SFTP.Sessions())) })
	m.Gauge("depot_sftp_transfers", "Files open for reading or writing in SFTP sessions.", func() float64 {
		n := 0
		for _, s := range a.SFTP.Sessions() {
			n += len(s.Transfers)
		}
		return float64(n)
	})
	m.Gauge("depot_automation_queue_depth", "Automation runs waiting for a worker, retries included.", func() float64 {
		return float64(a.Engine.Queued())
	})
	m.Gauge("depot_storage_used_bytes", "Bytes of files in storage, as Depot counts them.", func() float64 {
		n, _ := a.Usage.Usage(context.Background(), "/")
		return float64(n)
	})
	m.Gauge("depot_storage_free_bytes", "Bytes free on the disk of the data directory.", func() float64 {
		_, free, _ := a.Files.DiskSpace()
		return float64(free)
	})
	m.Gauge("depot_storage_disk_bytes", "Size of the disk of the data directory.", func() float64 {
		total, _, _ := a.Files.DiskSpace()
		return float64(total)
	})
	m.Gauge("depot_db_size_bytes", "Size of the database: its file, or the PostgreSQL database.", func() float64 {
		return float64(a.DB.Size(context.Background()))
	})
	m.Counter("depot_db_commits_total", "Database commits (a commit carries every write queued meanwhile).", func() float64 {
		n, _ := a.DB.CommitStats()
		return float64(n)
	})
	m.Counter("depot_db_commit_seconds_total", "Seconds spent committing to the database; divided by the commits, the commit latency.", func() float64 {
		_, secs := a.DB.CommitStats()
		return secs
	})
}
