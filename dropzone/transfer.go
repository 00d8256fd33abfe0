package dropzone

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"

	"depot/files"
	"depot/mft"
)

// Reserve reserves size bytes for a file in d if they fit its quota and,
// for a bucket user's dropzone, the bucket's. Returns EINVALID for a bad
// name, size or type, EQUOTA when the dropzone or bucket is full and
// EFORBIDDEN when the owner can no longer take files.
func (s *Service) Reserve(ctx context.Context, d *mft.Dropzone, name, typ string, size *int64) (*mft.DropzoneFile, error) {
	switch {
	case !files.PlainName(name):
		return nil, mft.Errorf(mft.EINVALID, "name must be a file name without /, such as report.pdf")
	case size == nil || *size < 0:
		return nil, mft.Errorf(mft.EINVALID, "size is required: the file's exact length in bytes (0 or more)")
	case len(typ) > 255:
		return nil, mft.Errorf(mft.EINVALID, "type is too long")
	}
	u, err := s.checkOwner(ctx, d)
	if err != nil {
		return nil, err
	}
	if u != nil && u.Bucket != "" {
		// One bucket's reservations at a time, so that two cannot share
		// the last bytes of its quota.
		s.bucketMu.Lock()
		defer s.bucketMu.Unlock()
		if err := s.checkBucketQuota(ctx, u, *size); err != nil {
			return nil, err
		}
	}
	f := &mft.DropzoneFile{Name: name, Type: typ, Size: *size}
	if err := s.Store.ReserveFile(ctx, d, f); err != nil {
		return nil, err
	}
	return f, nil
}

// UploadQuery returns the query of the URL that uploads exactly f, valid
// for UploadURLTTL: expires=…&signature=….
func (s *Service) UploadQuery(f *mft.DropzoneFile) string {
	exp := strconv.FormatInt(s.now().Add(UploadURLTTL).Unix(), 10)
	return "expires=" + exp + "&signature=" + s.sign(f, exp)
}

func (s *Service) sign(f *mft.DropzoneFile, expires string) string {
	m := hmac.New(sha256.New, s.URLKey)
	fmt.Fprintf(m, "dropzone-upload\x00%s\x00%s\x00%d\x00%s", f.Dropzone, f.ID, f.Size, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// Receive takes the bytes of reserved file id of dropzone zone through its
// signed URL (expires and signature from UploadQuery): exactly the reserved
// size, announced (-1 for unknown) and received, or nothing is kept. A URL
// takes one upload at a time and is spent once the file arrived. Returns
// EFORBIDDEN for a URL that is not valid, EEXPIRED for an expired URL or
// dropzone, EMALFORMED for a wrong length and ECONFLICT for a URL in use
// or spent.
func (s *Service) Receive(ctx context.Context, zone, id, expires, signature string, body io.Reader, announced int64, from files.Actor) (*mft.DropzoneFile, error) {
	f, err := s.Store.FindFile(ctx, zone, id)
	if err != nil {
		return nil, mft.Errorf(mft.EFORBIDDEN, "This upload URL is not valid.")
	}
	sig, err := hex.DecodeString(signature)
	want, _ := hex.DecodeString(s.sign(f, expires))
	if err != nil || !hmac.Equal(sig, want) {
		return nil, mft.Errorf(mft.EFORBIDDEN, "This upload URL is not valid (tampered or for another file).")
	}
	if n, err := strconv.ParseInt(expires, 10, 64); err != nil || !s.now().Before(time.Unix(n, 0)) {
		return nil, mft.Errorf(mft.EEXPIRED, "This upload URL has expired; reserve the file again.")
	}
	d, err := s.Store.FindDropzone(ctx, f.Dropzone)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(d.ExpiresAt) {
		return nil, mft.Errorf(mft.EEXPIRED, "This dropzone has expired.")
	}
	if _, err := s.checkOwner(ctx, d); err != nil {
		return nil, err
	}
	if announced >= 0 && announced != f.Size {
		return nil, mft.Errorf(mft.EMALFORMED, "Send exactly %d bytes, as reserved (this request has %d).", f.Size, announced)
	}
	// One upload per URL at a time; the file is read again once claimed,
	// so an upload that finished meanwhile is seen.
	if _, busy := s.uploads.LoadOrStore(f.ID, struct{}{}); busy {
		return nil, mft.Errorf(mft.ECONFLICT, "This file is being uploaded through another request.")
	}
	defer s.uploads.Delete(f.ID)
	if f, err = s.Store.FindFile(ctx, f.Dropzone, f.ID); err != nil {
		return nil, err
	}
	if f.Uploaded {
		return nil, mft.Errorf(mft.ECONFLICT, "This upload URL has been used: the file was received. Reserve a new file to send another.")
	}
	// The reserved size is the announced length whether or not the request
	// had one: a chunked body is cut off at its first byte too many. The
	// reservation is the quota, the size the limit.
	a := files.Confined("dropzone-"+d.ID, Root+d.ID, 0, from)
	fi, err := s.Files.Upload(ctx, a, "/"+f.ID, body, files.UploadOptions{Overwrite: true, Size: f.Size})
	if err != nil {
		if mft.ErrorCode(err) == mft.ETOOLARGE {
			err = mft.Errorf(mft.EMALFORMED, "Send exactly %d bytes, as reserved.", f.Size)
		}
		return nil, err
	}
	f.Uploaded, f.SHA256 = true, fi.SHA256
	if err := s.Store.PutFile(ctx, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Confirm makes an uploaded file available (once; confirming again
// changes nothing) and publishes dropzone.file_confirmed. Returns
// EINVALID for a file not uploaded yet.
func (s *Service) Confirm(ctx context.Context, d *mft.Dropzone, f *mft.DropzoneFile, from files.Actor) error {
	if !f.Uploaded {
		return mft.Errorf(mft.EINVALID, "Upload the file to its upload_url first.")
	}
	if f.Status == mft.DropzoneAvailable {
		return nil
	}
	now := s.now().UTC()
	f.Status, f.ConfirmedAt = mft.DropzoneAvailable, &now
	if err := s.Store.PutFile(ctx, f); err != nil {
		return err
	}
	mft.Publish(s.Events, mft.Event{Event: mft.EventDropzoneFileConfirmed, Time: now, Actor: d.Owner, Protocol: from.Protocol,
		IP: from.IP, Path: storagePath(f), Size: f.Size, SHA256: f.SHA256, Message: f.Name})
	return nil
}

// Open opens a confirmed file for download. Returns EINVALID for a file
// not confirmed yet.
func (s *Service) Open(f *mft.DropzoneFile) (files.File, fs.FileInfo, error) {
	if f.Status != mft.DropzoneAvailable {
		return nil, nil, mft.Errorf(mft.EINVALID, "This file is not confirmed yet.")
	}
	return s.Files.OpenStorage(storagePath(f))
}

// DeleteFile removes a file and frees its bytes.
func (s *Service) DeleteFile(ctx context.Context, f *mft.DropzoneFile) error {
	if err := s.Files.RemoveStorage(ctx, storagePath(f)); err != nil {
		return err
	}
	return s.Store.DeleteFile(ctx, f.Dropzone, f.ID)
}

// Sweep releases reservations not confirmed within UnconfirmedTTL and
// deletes the files of expired dropzones; it returns how many files it
// removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	list, err := s.Store.AllDropzones(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range list {
		if d.Swept {
			continue
		}
		expired := !now.Before(d.ExpiresAt)
		fl, err := s.Store.FindFiles(ctx, d.ID)
		if err != nil {
			return n, err
		}
		for _, f := range fl {
			if !expired && (f.Status == mft.DropzoneAvailable || now.Sub(f.CreatedAt) < UnconfirmedTTL) {
				continue
			}
			if err := s.DeleteFile(ctx, f); err != nil {
				return n, err
			}
			n++
		}
		if expired {
			d.Swept = true
			if err := s.Store.PutDropzone(ctx, d); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
