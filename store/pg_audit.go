package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"depot/mft"
)

// On PostgreSQL the audit log is not a bucket but a table partitioned by
// month (audit_events_YYYYMM, made as events arrive), with a column for
// each field the filters use and the event itself as stored on bbolt:
// a filter is a query the indexes answer instead of a scan, and retention
// drops whole months.

const auditSchema = `
CREATE TABLE IF NOT EXISTS audit_events (
	id text NOT NULL,
	time timestamptz NOT NULL,
	event text NOT NULL,
	actor text NOT NULL,
	bucket text NOT NULL,
	protocol text NOT NULL,
	status text NOT NULL,
	path text NOT NULL,
	new_path text NOT NULL,
	body bytea NOT NULL,
	PRIMARY KEY (time, id)
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS audit_events_id ON audit_events (id);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor, id);
CREATE INDEX IF NOT EXISTS audit_events_bucket ON audit_events (bucket, id);
CREATE INDEX IF NOT EXISTS audit_events_event ON audit_events (event, id);`

// lockAuditPartition serializes the making of partitions between nodes.
const lockAuditPartition = 0x6465706f74_03

// auditPartition returns the partition of the month of t and its bounds.
func auditPartition(t time.Time) (name string, from, to time.Time) {
	t = t.UTC()
	from = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return fmt.Sprintf("audit_events_%04d%02d", from.Year(), from.Month()), from, from.AddDate(0, 1, 0)
}

// ensurePartitions makes the month partitions events fall in that this
// node has not seen yet, each in a transaction of its own.
func (d *pgDriver) ensurePartitions(ctx context.Context, events []mft.Event) error {
	for i := range events {
		name, _, _ := auditPartition(events[i].Time)
		if _, ok := d.months.Load(name); ok {
			continue
		}
		if err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return makePartition(ctx, tx, events[i].Time) }); err != nil {
			return unavailable(err)
		}
		d.months.Store(name, true)
	}
	return nil
}

// makePartition makes the partition of t's month in tx, if missing.
func makePartition(ctx context.Context, tx pgx.Tx, t time.Time) error {
	name, from, to := auditPartition(t)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockAuditPartition)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF audit_events FOR VALUES FROM ('%s') TO ('%s')",
		name, from.Format(time.RFC3339), to.Format(time.RFC3339)))
	return err
}

// appendEvents stores events in one statement or, for many, with COPY in
// one transaction.
func (d *pgDriver) appendEvents(ctx context.Context, events []mft.Event) error {
	if err := d.ensurePartitions(ctx, events); err != nil {
		return err
	}
	if len(events) > insertMax {
		return d.write(ctx, func(tx pgx.Tx) error { return copyEvents(ctx, tx, events) })
	}
	// A few events (a durable record waits on this) go in one INSERT, one
	// round trip and atomic by itself; COPY costs several.
	q := strings.Builder{}
	q.WriteString("INSERT INTO audit_events (" + strings.Join(auditColumns, ", ") + ") VALUES ")
	args := make([]any, 0, len(events)*len(auditColumns))
	for i := range events {
		row, err := eventRow(&events[i])
		if err != nil {
			return err
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for j := range row {
			if j > 0 {
				q.WriteString(", ")
			}
			q.WriteString("$" + strconv.Itoa(len(args)+j+1))
		}
		q.WriteString(")")
		args = append(args, row...)
	}
	start := time.Now()
	_, err := d.pool.Exec(ctx, q.String(), args...)
	if err == nil {
		d.stats.add(start)
	}
	return unavailable(err)
}

// insertMax is the most events appendEvents writes with one INSERT.
const insertMax = 20

// eventRow is ev as a row of auditColumns.
func eventRow(ev *mft.Event) ([]any, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("store: encode audit event %s: %w", ev.ID, err)
	}
	return []any{ev.ID, ev.Time, ev.Event, ev.Actor, ev.Bucket, ev.Protocol, ev.Status, ev.Path, ev.NewPath, body}, nil
}

var auditColumns = []string{"id", "time", "event", "actor", "bucket", "protocol", "status", "path", "new_path", "body"}

func copyEvents(ctx context.Context, tx pgx.Tx, events []mft.Event) error {
	rows := make([][]any, len(events))
	for i := range events {
		row, err := eventRow(&events[i])
		if err != nil {
			return err
		}
		rows[i] = row
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, auditColumns, pgx.CopyFromRows(rows))
	return err
}

// write runs fn in one transaction (not retried: the audit table is
// only appended to and cut by whole months, so writers do not conflict).
func (d *pgDriver) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	start := time.Now()
	err := pgx.BeginFunc(ctx, d.pool, fn)
	if err == nil {
		d.stats.add(start)
	}
	return unavailable(err)
}

// findEvent returns the event with id.
func (d *pgDriver) findEvent(ctx context.Context, id string) (*mft.Event, error) {
	var body []byte
	err := d.pool.QueryRow(ctx, "SELECT body FROM audit_events WHERE id = $1", id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, mft.Errorf(mft.ENOTFOUND, "No audit event has that id.")
	} else if err != nil {
		return nil, unavailable(err)
	}
	var ev mft.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("store: decode audit event %s: %w", id, err)
	}
	return &ev, nil
}

// findEvents answers f with one query: the same matches as f.Match, in id
// order (newest first with f.Newest), a page after (or before) f.After.
func (d *pgDriver) findEvents(ctx context.Context, f mft.AuditFilter) ([]*mft.Event, bool, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if !f.From.IsZero() {
		where = append(where, "time >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "time < "+arg(f.To))
	}
	if prefix, ok := strings.CutSuffix(f.Event, "*"); ok && strings.HasSuffix(f.Event, ".*") {
		p := arg(prefix)
		where = append(where, "(event = "+arg(f.Event)+" OR left(event, length("+p+")) = "+p+")")
	} else if f.Event != "" {
		where = append(where, "event = "+arg(f.Event))
	}
	for col, v := range map[string]string{"actor": f.Actor, "bucket": f.Bucket, "protocol": f.Protocol, "status": f.Status} {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	if f.PathPrefix == "/" {
		where = append(where, "(left(path, 1) = '/' OR left(new_path, 1) = '/')")
	} else if f.PathPrefix != "" {
		p, below := arg(f.PathPrefix), arg(f.PathPrefix+"/")
		where = append(where, fmt.Sprintf("(path = %[1]s OR left(path, length(%[2]s)) = %[2]s OR new_path = %[1]s OR left(new_path, length(%[2]s)) = %[2]s)", p, below))
	}
	order := "id"
	if f.After != "" && f.Newest {
		where = append(where, "id < "+arg(f.After))
	} else if f.After != "" {
		where = append(where, "id > "+arg(f.After))
	}
	if f.Newest {
		order = "id DESC"
	}
	q := "SELECT body FROM audit_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + order + " LIMIT " + arg(f.Limit+1)
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, false, unavailable(err)
	}
	defer rows.Close()
	var out []*mft.Event
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, false, unavailable(err)
		}
		ev := new(mft.Event)
		if err := json.Unmarshal(body, ev); err != nil {
			return nil, false, fmt.Errorf("store: decode audit event: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, false, unavailable(err)
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

// deleteEventsBefore drops the months that end before t and deletes the
// older events of the month t falls in.
func (d *pgDriver) deleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	keep, _, _ := auditPartition(t)
	n := 0
	err := d.write(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, name := range names {
			if name >= keep {
				break
			}
			var count int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{name}.Sanitize()).Scan(&count); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return err
			}
			d.months.Delete(name)
			n += count
		}
		tag, err := tx.Exec(ctx, "DELETE FROM audit_events WHERE time < $1", t)
		n += int(tag.RowsAffected())
		return err
	})
	return n, err
}
