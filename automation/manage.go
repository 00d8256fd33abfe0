package automation

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"depot/auth"
	"depot/mft"
)

// The changes to automations and webhooks: each validates, seals the
// secrets (a secret sent back as mft.SecretMarker keeps the stored one),
// stores, reloads the schedule and publishes its change event with the
// origin the context carries.

// CreateAutomation stores a new automation.
func (e *Engine) CreateAutomation(ctx context.Context, a *mft.Automation) error {
	if err := e.prepare(a, nil); err != nil {
		return err
	}
	if err := e.Store.CreateAutomation(ctx, a); err != nil {
		return err
	}
	return e.changed(ctx, mft.EventAutomationCreated, a.ID)
}

// UpdateAutomation stores next in place of old; the id, creation time and
// trigger token stay old's.
func (e *Engine) UpdateAutomation(ctx context.Context, old, next *mft.Automation) error {
	next.ID, next.CreatedAt, next.TriggerTokenHash = old.ID, old.CreatedAt, old.TriggerTokenHash
	if err := e.prepare(next, old); err != nil {
		return err
	}
	next.UpdatedAt = e.Now().UTC()
	if err := e.Store.PutAutomation(ctx, next); err != nil {
		return err
	}
	return e.changed(ctx, mft.EventAutomationUpdated, next.ID)
}

// DeleteAutomation removes an automation.
func (e *Engine) DeleteAutomation(ctx context.Context, id string) error {
	if err := e.Store.DeleteAutomation(ctx, id); err != nil {
		return err
	}
	return e.changed(ctx, mft.EventAutomationDeleted, id)
}

// NewTriggerToken gives automation id a new trigger token, replacing any
// earlier one, and returns it (only its hash is kept).
func (e *Engine) NewTriggerToken(ctx context.Context, id string) (string, error) {
	token := auth.NewKey()
	return token, e.setTrigger(ctx, id, auth.HashKey(token))
}

// RemoveTriggerToken turns automation id's trigger URL off.
func (e *Engine) RemoveTriggerToken(ctx context.Context, id string) error {
	return e.setTrigger(ctx, id, "")
}

func (e *Engine) setTrigger(ctx context.Context, id, hash string) error {
	a, err := e.Store.FindAutomation(ctx, id)
	if err != nil {
		return err
	}
	a.TriggerTokenHash = hash
	if err := e.Store.PutAutomation(ctx, a); err != nil {
		return err
	}
	e.publishChange(ctx, mft.EventAutomationUpdated, id)
	return nil
}

// prepare validates a and seals its actions' secrets; old, when a
// replaces it, gives the secrets sent back as the marker.
func (e *Engine) prepare(a, old *mft.Automation) error {
	if err := a.Validate(CheckSchedule); err != nil {
		return err
	}
	for i := range a.Actions {
		act := &a.Actions[i]
		var prev mft.Action
		if old != nil && i < len(old.Actions) {
			prev = old.Actions[i]
		}
		act.Secret = e.Sealer.KeepOrSeal(act.Secret, prev.Secret)
		act.PrivateKey = e.Sealer.KeepOrSeal(act.PrivateKey, prev.PrivateKey)
		act.Passphrase = e.Sealer.KeepOrSeal(act.Passphrase, prev.Passphrase)
		act.URL = mft.KeepURLSecret(act.URL, prev.URL)
		for k, v := range act.Headers {
			if mft.SecretHeader(k) {
				act.Headers[k] = e.Sealer.KeepOrSeal(v, prev.Headers[k])
			}
		}
	}
	return nil
}

// WebhookChange is a change to a webhook; nil fields stay.
type WebhookChange struct {
	URL    *string
	Events *[]string
	Paths  *[]string
	Bucket *string
	Secret *string
	Active *bool
}

// CreateWebhook stores a new webhook; url and events are required.
func (e *Engine) CreateWebhook(ctx context.Context, c WebhookChange) (*mft.Webhook, error) {
	if c.URL == nil || c.Events == nil {
		return nil, mft.Errorf(mft.EINVALID, "url and events are required")
	}
	w := &mft.Webhook{Active: true}
	if err := e.applyWebhook(c, w); err != nil {
		return nil, err
	}
	if err := e.Store.CreateWebhook(ctx, w); err != nil {
		return nil, err
	}
	return w, e.changed(ctx, mft.EventWebhookCreated, w.ID)
}

// UpdateWebhook changes webhook w (as stored) by c.
func (e *Engine) UpdateWebhook(ctx context.Context, w *mft.Webhook, c WebhookChange) error {
	if err := e.applyWebhook(c, w); err != nil {
		return err
	}
	w.UpdatedAt = e.Now().UTC()
	if err := e.Store.PutWebhook(ctx, w); err != nil {
		return err
	}
	return e.changed(ctx, mft.EventWebhookUpdated, w.ID)
}

// DeleteWebhook removes a webhook; deliveries queued for it are dropped
// when they come up.
func (e *Engine) DeleteWebhook(ctx context.Context, id string) error {
	if err := e.Store.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	return e.changed(ctx, mft.EventWebhookDeleted, id)
}

// applyWebhook copies the set fields of c onto w and checks the result.
func (e *Engine) applyWebhook(c WebhookChange, w *mft.Webhook) error {
	if c.URL != nil {
		w.URL = mft.KeepURLSecret(*c.URL, w.URL)
	}
	set(&w.Events, c.Events)
	set(&w.Paths, c.Paths)
	set(&w.Bucket, c.Bucket)
	set(&w.Active, c.Active)
	if c.Secret != nil {
		if *c.Secret != "" && len(*c.Secret) < 16 {
			return mft.Errorf(mft.EINVALID, "secret must be at least 16 characters (or \"\" for none)")
		}
		w.Secret = e.Sealer.KeepOrSeal(*c.Secret, w.Secret)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return mft.Errorf(mft.EINVALID, "url must be an http or https URL")
	}
	if len(w.Events) == 0 {
		return mft.Errorf(mft.EINVALID, "events must list events, or [\"*\"] for all")
	}
	for _, ev := range w.Events {
		if ev != "*" && !slices.Contains(mft.EventNames, ev) {
			return mft.Errorf(mft.EINVALID, "events: %q is not an event; one of *, %s", ev, strings.Join(mft.EventNames, ", "))
		}
	}
	if w.Paths == nil {
		w.Paths = []string{}
	}
	for _, p := range w.Paths {
		if err := mft.ValidateStoragePath("paths", p); err != nil {
			return err
		}
	}
	return nil
}

// changed reloads after a change and publishes its event.
func (e *Engine) changed(ctx context.Context, event, target string) error {
	if err := e.Reload(ctx); err != nil {
		return err
	}
	e.publishChange(ctx, event, target)
	return nil
}

func (e *Engine) publishChange(ctx context.Context, event, target string) {
	if e.Events != nil {
		e.Events.Publish(mft.ChangeEvent(ctx, event, target, e.Now()))
	}
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
