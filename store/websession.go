package store

import (
	"context"
	"slices"
	"strings"

	"depot/mft"
)

var (
	bucketWebSessions     = []byte("WebSessions")      // hash of the cookie → session
	bucketWebSessionsUser = []byte("WebSessions.User") // user \x00 hash → nothing
)

// WebSessionStore keeps the web client's sessions, so that a browser
// signed in through one node is signed in on every node.
type WebSessionStore struct {
	db *DB
}

var _ mft.WebSessionStore = (*WebSessionStore)(nil)

// NewWebSessionStore returns a WebSessionStore backed by db.
func NewWebSessionStore(db *DB) *WebSessionStore { return &WebSessionStore{db: db} }

func (s *WebSessionStore) CreateWebSession(ctx context.Context, key string, ws *mft.WebSession, max int, ended func(*mft.WebSession) bool) error {
	return s.db.update(ctx, func(tx kvTx) error {
		if tx.Bucket(bucketWebSessions).KeyN() >= max {
			if err := pruneWebSessions(tx, max, ended); err != nil {
				return err
			}
		}
		return putWebSession(tx, key, ws)
	})
}

func putWebSession(tx kvTx, key string, ws *mft.WebSession) error {
	if err := put(tx.Bucket(bucketWebSessions), key, ws); err != nil {
		return err
	}
	return tx.Bucket(bucketWebSessionsUser).Put([]byte(ws.UserID+"\x00"+key), []byte{})
}

func deleteWebSession(tx kvTx, key, user string) error {
	if err := tx.Bucket(bucketWebSessions).Delete([]byte(key)); err != nil {
		return err
	}
	return tx.Bucket(bucketWebSessionsUser).Delete([]byte(user + "\x00" + key))
}

// pruneWebSessions removes the ended sessions; if that leaves max or
// more, the one seen longest ago.
func pruneWebSessions(tx kvTx, max int, ended func(*mft.WebSession) bool) error {
	all, err := allWebSessions(tx)
	if err != nil {
		return err
	}
	if _, err := deleteWebSessionsWhere(tx, all, ended); err != nil {
		return err
	}
	oldest := ""
	for k, ws := range all {
		if oldest == "" || ws.Seen.Before(all[oldest].Seen) {
			oldest = k
		}
	}
	if len(all) >= max && oldest != "" {
		return deleteWebSession(tx, oldest, all[oldest].UserID)
	}
	return nil
}

// allWebSessions reads every session, by key (a scan: for the prune, the
// sweep and a provider's logout).
func allWebSessions(tx kvTx) (map[string]*mft.WebSession, error) {
	all := map[string]*mft.WebSession{}
	err := tx.Bucket(bucketWebSessions).ForEach(func(k, v []byte) error {
		ws := new(mft.WebSession)
		if err := decode(k, v, ws); err != nil {
			return err
		}
		all[string(k)] = ws
		return nil
	})
	return all, err
}

// deleteWebSessionsWhere deletes the sessions of all that match, taking
// them out of all, and returns how many.
func deleteWebSessionsWhere(tx kvTx, all map[string]*mft.WebSession, match func(*mft.WebSession) bool) (int, error) {
	n := 0
	for k, ws := range all {
		if !match(ws) {
			continue
		}
		if err := deleteWebSession(tx, k, ws.UserID); err != nil {
			return n, err
		}
		delete(all, k)
		n++
	}
	return n, nil
}

func (s *WebSessionStore) FindWebSession(ctx context.Context, key string) (*mft.WebSession, error) {
	return findOne[mft.WebSession](s.db, ctx, bucketWebSessions, key, "Your session has ended; sign in again.")
}

func (s *WebSessionStore) UpdateWebSession(ctx context.Context, key string, fn func(*mft.WebSession)) (*mft.WebSession, error) {
	var out *mft.WebSession
	err := s.db.update(ctx, func(tx kvTx) error {
		ws := new(mft.WebSession)
		ok, err := get(tx.Bucket(bucketWebSessions), key, ws)
		if err != nil {
			return err
		} else if !ok || key == "" {
			return mft.Errorf(mft.ENOTFOUND, "Your session has ended; sign in again.")
		}
		fn(ws)
		out = ws
		return put(tx.Bucket(bucketWebSessions), key, ws)
	})
	return out, err
}

func (s *WebSessionStore) DeleteWebSession(ctx context.Context, key string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		ws := new(mft.WebSession)
		if ok, err := get(tx.Bucket(bucketWebSessions), key, ws); err != nil || !ok {
			return err
		}
		return deleteWebSession(tx, key, ws.UserID)
	})
}

func (s *WebSessionStore) DeleteUserWebSessions(ctx context.Context, userID string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		prefix := userID + "\x00"
		var keys []string
		c := tx.Bucket(bucketWebSessionsUser).Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
			keys = append(keys, strings.TrimPrefix(string(k), prefix))
		}
		for _, key := range keys {
			if err := deleteWebSession(tx, key, userID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *WebSessionStore) DeleteWebSessions(ctx context.Context, match func(*mft.WebSession) bool) (n int, err error) {
	err = s.db.update(ctx, func(tx kvTx) error {
		all, err := allWebSessions(tx)
		if err == nil {
			n, err = deleteWebSessionsWhere(tx, all, match)
		}
		return err
	})
	return n, err
}

func (s *WebSessionStore) WebSessionUsers(ctx context.Context, match func(*mft.WebSession) bool) ([]string, error) {
	var users []string
	err := s.db.view(ctx, func(tx kvTx) error {
		all, err := allWebSessions(tx)
		users = nil
		for _, ws := range all {
			if match(ws) && !slices.Contains(users, ws.UserID) {
				users = append(users, ws.UserID)
			}
		}
		return err
	})
	return users, err
}

func (s *WebSessionStore) CountWebSessions(ctx context.Context) (int, error) {
	n := 0
	err := s.db.view(ctx, func(tx kvTx) error {
		n = tx.Bucket(bucketWebSessions).KeyN()
		return nil
	})
	return n, err
}
