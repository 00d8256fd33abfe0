package automation

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"depot/files"
	"depot/mft"
)

// runActions runs the chain: each action gets the file the previous one
// produced (the run's file first), and each step is recorded.
func (e *Engine) runActions(ctx context.Context, a *mft.Automation, r *mft.Run) error {
	file := ""
	if len(r.Files) > 0 {
		file = r.Files[0]
	}
	user, bucket := "", ""
	if r.Event != nil {
		user, bucket = r.Event.Actor, r.Event.Bucket
	}
	loc := time.UTC
	if a.Timezone != "" {
		if l, err := time.LoadLocation(a.Timezone); err == nil {
			loc = l
		}
	}
	x := &step{e: e, a: a, r: r, actor: systemActor(a.ID, r.Depth), user: user, bucket: bucket, now: e.Now().In(loc),
		actions: a.Actions}
	if a.Source.Remote() && file == "" {
		x.actions, x.sourced = append([]mft.Action{a.Source.Download()}, a.Actions...), true
	}
	return x.chain(ctx, 0, file)
}

// chain runs the actions from the first on file. A download runs the
// rest of the chain on each file it fetched (a remote source's, on those
// that meet the conditions).
func (x *step) chain(ctx context.Context, first int, file string) error {
	for i := first; i < len(x.actions); i++ {
		act := x.actions[i]
		start := time.Now()
		x.rec = mft.Step{Action: act.Type, Input: file}
		var out string
		var fetched []string
		var err error
		fans := act.Type == "download" || act.Type == "decompress"
		switch act.Type {
		case "download":
			fetched, err = x.download(ctx, act)
			out = act.To
		case "decompress":
			if file == "" {
				err = errNoFile
				break
			}
			out, fetched, err = x.decompress(ctx, act, file)
		default:
			out, err = x.do(ctx, act, file)
		}
		s := x.rec
		s.Output, s.DurationMS = out, time.Since(start).Milliseconds()
		if err != nil {
			s.Error = stepError(err)
			x.r.Steps = append(x.r.Steps, s)
			return fmt.Errorf("%s %s: %s", x.name(i), act.Type, s.Error)
		}
		x.r.Steps = append(x.r.Steps, s)
		if fans { // the rest of the chain runs on each file fetched or unpacked
			for _, f := range fetched {
				if x.sourced && i == 0 && !x.meets(ctx, f) {
					continue
				}
				if err := x.chain(ctx, i+1, f); err != nil {
					return err
				}
			}
			return nil
		}
		file = out
	}
	return nil
}

// name is how a run's error names the action at i of the chain.
func (x *step) name(i int) string {
	switch {
	case !x.sourced:
		return fmt.Sprintf("actions[%d]", i)
	case i == 0:
		return "source"
	}
	return fmt.Sprintf("actions[%d]", i-1)
}

// meets reports whether a file a remote source fetched meets the
// automation's conditions.
func (x *step) meets(ctx context.Context, file string) bool {
	fi, err := x.e.Files.Stat(ctx, x.actor, file)
	return err == nil && matchFile(x.a.Conditions, fi, x.now)
}

// stepError is what a run records of a failed action: the file service's
// message (written for clients, never a host path), or the action's own
// error (a webhook's answer, an OpenPGP problem).
func stepError(err error) string {
	var e *mft.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// step runs single actions of one run.
type step struct {
	e            *Engine
	a            *mft.Automation
	r            *mft.Run
	actor        files.Actor
	user, bucket string
	now          time.Time
	rec          mft.Step // the step being run; upload and download add to it
	// actions is the chain: the automation's, after a remote source's
	// download when sourced.
	actions []mft.Action
	sourced bool
}

var errNoFile = errors.New("there is no file to work on (a delete came before, or the run has no file)")

// do runs one action on file and returns the file it produced.
func (x *step) do(ctx context.Context, act mft.Action, file string) (string, error) {
	if act.Type != "webhook" && act.Type != "http" && act.Type != "email" && file == "" {
		return "", errNoFile
	}
	fs := x.e.Files
	switch act.Type {
	case "webhook":
		return file, x.webhook(ctx, act, file)
	case "rename":
		to := path.Join(path.Dir(file), x.expand(act.To, file))
		if to == file {
			return file, nil
		}
		_, err := fs.Replace(ctx, x.actor, file, to)
		return to, err
	case "copy":
		to, err := x.destination(ctx, act.To, file)
		if err != nil {
			return "", err
		}
		src, _, err := fs.Open(ctx, x.actor, file)
		if err != nil {
			return "", err
		}
		defer src.Close()
		_, err = fs.Upload(ctx, x.actor, to, src, files.UploadOptions{Overwrite: true, Size: -1})
		return to, err
	case "move":
		to, err := x.destination(ctx, act.To, file)
		if err != nil {
			return "", err
		}
		if to != file {
			_, err = fs.Replace(ctx, x.actor, file, to)
		}
		return to, err
	case "delete":
		return "", fs.Remove(ctx, x.actor, file, false)
	case "pgp_encrypt":
		return x.encrypt(ctx, act, file)
	case "pgp_decrypt":
		return x.decrypt(ctx, act, file)
	case "upload":
		return x.upload(ctx, act, file)
	case "compress":
		return x.compress(ctx, act, file)
	case "http":
		return file, x.httpCall(ctx, act, file)
	case "email":
		return file, x.email(ctx, act, file)
	}
	return "", fmt.Errorf("unknown action %q", act.Type)
}

func (x *step) expand(pattern, file string) string {
	return expand(pattern, file, x.user, x.bucket, x.now)
}

// destination resolves a copy or move target: placeholders filled, a
// trailing / keeps the name, and the folders are created.
func (x *step) destination(ctx context.Context, pattern, file string) (string, error) {
	to := x.expand(pattern, file)
	if strings.HasSuffix(to, "/") {
		to += path.Base(file)
	}
	to, err := files.CleanPath(to)
	if err != nil {
		return "", err
	}
	if dir := path.Dir(to); dir != "/" {
		if _, err := x.e.Files.Mkdir(ctx, x.actor, dir); err != nil && mft.ErrorCode(err) != mft.ECONFLICT {
			return "", err
		}
	}
	return to, nil
}

// encrypt writes file.pgp encrypted to the action's public keys, streaming
// from the file through OpenPGP into the upload.
func (x *step) encrypt(ctx context.Context, act mft.Action, file string) (string, error) {
	keys, err := openpgp.ReadArmoredKeyRing(strings.NewReader(act.PublicKey))
	if err != nil {
		return "", fmt.Errorf("public_key: %v", err)
	}
	src, fi, err := x.e.Files.Open(ctx, x.actor, file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	to := file + ".pgp"
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20) // hand the upload whole units, not OpenPGP's small packets
		w, err := openpgp.Encrypt(bw, keys, nil, &openpgp.FileHints{IsBinary: true, FileName: path.Base(file), ModTime: fi.ModifiedAt},
			&packet.Config{DefaultCipher: packet.CipherAES256})
		if err == nil {
			buf := make([]byte, 1<<20)
			_, err = io.CopyBuffer(w, src, buf)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
		}
		pw.CloseWithError(err)
	}()
	_, err = x.e.Files.Upload(ctx, x.actor, to, pr, files.UploadOptions{Overwrite: true, Size: -1})
	pr.CloseWithError(errors.New("upload ended")) // unblock the encrypter if the upload failed
	if err != nil {
		return "", err
	}
	if !act.KeepOriginal {
		if err := x.e.Files.Remove(ctx, x.actor, file, false); err != nil {
			return "", err
		}
	}
	return to, nil
}

// decrypt writes the plain text of an OpenPGP file next to it, named
// without its .pgp, .gpg or .asc ending.
func (x *step) decrypt(ctx context.Context, act mft.Action, file string) (string, error) {
	priv, err := x.e.open(act.PrivateKey)
	if err != nil {
		return "", err
	}
	pass, err := x.e.open(act.Passphrase)
	if err != nil {
		return "", err
	}
	keys, err := openpgp.ReadArmoredKeyRing(strings.NewReader(priv))
	if err != nil {
		return "", fmt.Errorf("private_key: %v", err)
	}
	for _, k := range keys {
		if k.PrivateKey != nil && k.PrivateKey.Encrypted {
			if err := k.PrivateKey.Decrypt([]byte(pass)); err != nil {
				return "", errors.New("passphrase does not unlock the private key")
			}
		}
		for _, sub := range k.Subkeys {
			if sub.PrivateKey != nil && sub.PrivateKey.Encrypted {
				if err := sub.PrivateKey.Decrypt([]byte(pass)); err != nil {
					return "", errors.New("passphrase does not unlock the private key")
				}
			}
		}
	}
	src, _, err := x.e.Files.Open(ctx, x.actor, file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	md, err := openpgp.ReadMessage(src, keys, nil, nil)
	if err != nil {
		return "", fmt.Errorf("not decryptable with this key: %v", err)
	}
	to := file
	for _, ext := range []string{".pgp", ".gpg", ".asc"} {
		to = strings.TrimSuffix(to, ext)
	}
	if to == file {
		to = file + ".out"
	}
	if _, err := x.e.Files.Upload(ctx, x.actor, to, md.UnverifiedBody, files.UploadOptions{Overwrite: true, Size: -1}); err != nil {
		return "", err
	}
	if !act.KeepOriginal {
		if err := x.e.Files.Remove(ctx, x.actor, file, false); err != nil {
			return "", err
		}
	}
	return to, nil
}

// open decrypts a secret stored sealed.
func (e *Engine) open(v string) (string, error) {
	if e.Sealer == nil {
		return v, nil
	}
	return e.Sealer.Open(v)
}
