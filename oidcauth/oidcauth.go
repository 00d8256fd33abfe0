// Package oidcauth signs people in with the company's OpenID provider
// (go-oidc and x/oauth2): the authorization code flow with PKCE, state and
// nonce, the ID token verified against the provider's keys, and its
// back-channel logout tokens. It knows nothing of Depot's accounts.
package oidcauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"depot/config"
	"depot/mft"
)

// Identity is who the provider says signed in.
type Identity struct {
	Subject, SessionID string
	Email              string
	EmailVerified      bool
	Name               string
	// Groups are the values of the groups claim (oidc.groups_claim).
	Groups []string
}

// groupsIn reads the groups claim from claims (a list of strings, or one
// string).
func groupsIn(claims map[string]json.RawMessage, name string) []string {
	var list []string
	if json.Unmarshal(claims[name], &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(claims[name], &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}

// Provider is the configured provider, discovered at first use (it may be
// down when Depot starts).
type Provider struct {
	cfg      config.OIDC
	redirect func() string

	mu       sync.Mutex
	provider *oidc.Provider
}

// New returns the provider of cfg; redirect is Depot's callback URL (known
// once the HTTP listener is open).
func New(cfg config.OIDC, redirect func() string) *Provider {
	return &Provider{cfg: cfg, redirect: redirect}
}

// Name is the provider's name on the sign-in page.
func (p *Provider) Name() string { return p.cfg.Name }

// discover fetches the provider's configuration once it answers.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pr, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, mft.Errorf(mft.EUNAVAILABLE, "The sign-in provider cannot be reached (%.200s); try again later.", err)
	}
	p.provider = pr
	return pr, nil
}

func (p *Provider) oauth(pr *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: pr.Endpoint(),
		RedirectURL: p.redirect(), Scopes: p.cfg.Scopes}
}

// Start is a sign-in begun: where to send the browser, and what the
// callback needs (kept by Depot, not the browser: State is in a cookie).
type Start struct {
	URL, State, Nonce, Verifier string
}

// Begin makes a new state, nonce and PKCE verifier and the provider's
// authorization URL for them.
func (p *Provider) Begin(ctx context.Context) (*Start, error) {
	pr, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	s := &Start{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	s.URL = p.oauth(pr).AuthCodeURL(s.State, oidc.Nonce(s.Nonce), oauth2.S256ChallengeOption(s.Verifier))
	return s, nil
}

// Finish exchanges the code of the callback for tokens and returns the
// ID token's identity, verified: the provider's signature, issuer,
// audience, expiry and the nonce of the sign-in.
func (p *Provider) Finish(ctx context.Context, code string, s *Start) (*Identity, error) {
	pr, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := p.oauth(pr).Exchange(ctx, code, oauth2.VerifierOption(s.Verifier))
	if err != nil {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "The sign-in provider refused the sign-in (%.200s).", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := p.verify(ctx, pr, raw, s.Nonce)
	if err != nil || id.Email != "" {
		return id, err
	}
	// Providers that keep the profile out of the ID token (oidc-provider's
	// default, as the specification's) give it at the userinfo endpoint,
	// for the same subject.
	info, err := pr.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, mft.Errorf(mft.EUNAVAILABLE, "The sign-in provider's userinfo cannot be read (%.200s).", err)
	}
	if info.Subject != id.Subject {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "The sign-in provider's userinfo is for another subject.")
	}
	var c struct {
		Name string `json:"name"`
	}
	var all map[string]json.RawMessage
	info.Claims(&c)
	info.Claims(&all)
	id.Email, id.EmailVerified = info.Email, info.EmailVerified
	if id.Name == "" {
		id.Name = c.Name
	}
	if id.Groups == nil {
		id.Groups = groupsIn(all, p.cfg.GroupsClaim)
	}
	return id, nil
}

// verify checks an ID token and returns its identity.
func (p *Provider) verify(ctx context.Context, pr *oidc.Provider, raw, nonce string) (*Identity, error) {
	bad := func(why string, args ...any) error {
		return mft.Errorf(mft.EUNAUTHORIZED, "The sign-in provider's answer is not valid: %s.", fmt.Sprintf(why, args...))
	}
	if raw == "" {
		return nil, bad("no ID token")
	}
	idt, err := pr.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, bad("%.200s", err)
	}
	if idt.Nonce != nonce {
		return nil, bad("the nonce is not this sign-in's")
	}
	var c struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
		Name          string `json:"name"`
		SessionID     string `json:"sid"`
	}
	var all map[string]json.RawMessage
	if err := errors.Join(idt.Claims(&c), idt.Claims(&all)); err != nil {
		return nil, bad("%.200s", err)
	}
	return &Identity{Subject: idt.Subject, SessionID: c.SessionID, Email: c.Email,
		EmailVerified: c.EmailVerified != nil && *c.EmailVerified, Name: c.Name, Groups: groupsIn(all, p.cfg.GroupsClaim)}, nil
}

// backchannelEvent is the event a logout token must carry.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Logout checks a back-channel logout token (OpenID Connect Back-Channel
// Logout 1.0) and returns the subject and session it ends.
func (p *Provider) Logout(ctx context.Context, raw string) (subject, session string, err error) {
	pr, err := p.discover(ctx)
	if err != nil {
		return "", "", err
	}
	bad := func(why string) error { return mft.Errorf(mft.EMALFORMED, "Not a valid logout token: %s.", why) }
	// Logout tokens need not expire; their age is checked below.
	t, err := pr.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, SkipExpiryCheck: true}).Verify(ctx, raw)
	if err != nil {
		return "", "", bad(fmt.Sprintf("%.200s", err))
	}
	var c struct {
		Events map[string]any `json:"events"`
		Nonce  *string        `json:"nonce"`
		SID    string         `json:"sid"`
	}
	if err := t.Claims(&c); err != nil {
		return "", "", bad(err.Error())
	}
	switch {
	case c.Events == nil || c.Events[backchannelEvent] == nil:
		return "", "", bad("no back-channel logout event")
	case c.Nonce != nil:
		return "", "", bad("a logout token carries no nonce")
	case t.Subject == "" && c.SID == "":
		return "", "", bad("neither sub nor sid")
	case time.Since(t.IssuedAt) > 10*time.Minute || time.Until(t.IssuedAt) > time.Minute:
		return "", "", bad("issued too long ago")
	}
	return t.Subject, c.SID, nil
}
