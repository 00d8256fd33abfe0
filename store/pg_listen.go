package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// accessChannel carries a notification for every committed change to who
// may reach what (users, groups, permissions, buckets, mounts), from
// whichever process made it: sessions that keep what they read (the
// access generation) then read again, on every process on the database.
const accessChannel = "depot_access"

// listenConn opens a connection of its own listening on accessChannel.
func (d *pgDriver) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+accessChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("store: LISTEN %s: %w", accessChannel, err)
	}
	return conn, nil
}

// listen calls changed for each notification on conn (but this process's
// own, whose generation grew at the commit, so that it grows at once and
// only then), and whenever the
// connection is lost (notifications sent meanwhile are lost with it),
// listening again on a new one. It returns when ctx ends.
func (d *pgDriver) listen(ctx context.Context, conn *pgx.Conn, changed func()) {
	wait := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			switch {
			case err != nil:
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				changed()
			case n.Payload != d.self: // this process's own changes counted at their commit
				changed()
				wait = 100 * time.Millisecond
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
			wait = min(2*wait, 5*time.Second)
		}
		if c, err := d.listenConn(ctx); err == nil {
			conn = c
			changed() // what changed before LISTEN was not heard
		}
	}
}
