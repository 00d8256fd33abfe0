package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels of the notifications a committed change sends to the other
// processes on the database (tx.Notify), each sent by whichever process
// made the change.
const (
	// accessChannel: who may reach what changed (users, groups,
	// permissions, buckets, mounts): sessions that keep what they read
	// (the access generation) read again, on every process.
	accessChannel = "depot_access"
	// automationsChannel: automations or webhooks changed: every node's
	// engine loads them again.
	automationsChannel = "depot_automations"
	// bansChannel: the defender's bans changed: every node reads them.
	bansChannel = "depot_bans"
)

var channels = []string{accessChannel, automationsChannel, bansChannel}

// newNodeID returns a random positive node id.
func newNodeID() int32 { return rand.Int32N(1<<31-1) + 1 }

// startListening opens the listener's connection, taking the node's
// liveness lock on it, and listens until close.
func (d *pgDriver) startListening(ctx context.Context, changed func(string)) error {
	var conn *pgx.Conn
	for attempt := 0; conn == nil; attempt++ {
		c, err := d.listenConn(ctx)
		switch {
		case errors.Is(err, errNodeTaken) && attempt < 10:
			d.nodeID = newNodeID() // another live node drew the same id
		case err != nil:
			return err
		default:
			conn = c
		}
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stopListening = stop
	d.listening = make(chan struct{})
	go func() { defer close(d.listening); d.listen(lctx, conn, changed) }()
	return nil
}

var errNodeTaken = errors.New("store: the node id is taken")

// listenConn opens a connection of its own listening on every channel
// and holding the node's liveness lock.
func (d *pgDriver) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*pgx.Conn, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	// The server ends the connection, and with it the node's liveness
	// lock, within about 25 s of losing the node (rather than the
	// system's two hours of TCP keepalive): the others then adopt its
	// work.
	if _, err := conn.Exec(ctx, "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "+
		"SET tcp_keepalives_count = 3; SET tcp_user_timeout = 25000"); err != nil {
		return fail(err)
	}
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return fail(fmt.Errorf("store: LISTEN %s: %w", ch, err))
		}
	}
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::int4, $2::int4)", int32(lockNodes), d.nodeID).Scan(&locked); err != nil {
		return fail(err)
	} else if !locked {
		return fail(errNodeTaken)
	}
	return conn, nil
}

// listen calls changed for each notification on conn (but this process's
// own, which it heard of at the commit), and for every channel whenever
// the connection is lost (notifications sent meanwhile are lost with it),
// listening again on a new one. It returns when ctx ends.
func (d *pgDriver) listen(ctx context.Context, conn *pgx.Conn, changed func(string)) {
	all := func() {
		for _, ch := range channels {
			changed(ch)
		}
	}
	wait := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			switch {
			case err != nil:
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				all()
			case n.Payload != d.self:
				changed(n.Channel)
				wait = 100 * time.Millisecond
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
			wait = min(2*wait, 5*time.Second)
		}
		// The same id again: until the server has seen the old
		// connection go, the lock is still its, and this waits.
		if c, err := d.listenConn(ctx); err == nil {
			conn = c
			all() // what changed before LISTEN was not heard
		}
	}
}

// node names this node among the live nodes.
func (d *pgDriver) node() string { return strconv.Itoa(int(d.nodeID)) }

// liveNodes names the nodes whose liveness lock is held: the nodes whose
// listener's connection is up.
func (d *pgDriver) liveNodes(ctx context.Context) ([]string, error) {
	rows, err := d.pool.Query(ctx, `SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid = $1::int4::oid AND objsubid = 2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, int32(lockNodes))
	if err != nil {
		return nil, unavailable(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatUint(uint64(id), 10)
	}
	return out, nil
}
