package mft

import (
	"context"
	"errors"
)

// Event names, as listed in the design. Every event is written to the audit
// log; webhooks and automations subscribe to them.
const (
	EventFileUploaded          = "file.uploaded"
	EventFileDownloaded        = "file.downloaded"
	EventFileDeleted           = "file.deleted"
	EventFileRenamed           = "file.renamed"
	EventFolderCreated         = "folder.created"
	EventFolderDeleted         = "folder.deleted"
	EventFiledropReceived      = "filedrop.received"
	EventDropzoneFileConfirmed = "dropzone.file.confirmed"
	EventLinkDownloaded        = "link.downloaded"
	EventUserCreated           = "user.created"
	EventUserUpdated           = "user.updated"
	EventUserDeleted           = "user.deleted"
	EventUserLogin             = "user.login"
	EventUserLoginFailed       = "user.login_failed"
	EventIPBanned              = "ip.banned"
	EventBucketCreated         = "bucket.created"
	EventBucketUpdated         = "bucket.updated"
	EventBucketDeleted         = "bucket.deleted"
	EventAutomationSucceeded   = "automation.succeeded"
	EventAutomationFailed      = "automation.failed"
)

// EventNames lists every event, for validation of subscriptions.
var EventNames = []string{EventFileUploaded, EventFileDownloaded, EventFileDeleted, EventFileRenamed,
	EventFolderCreated, EventFolderDeleted, EventFiledropReceived, EventDropzoneFileConfirmed, EventLinkDownloaded,
	EventUserCreated, EventUserUpdated, EventUserDeleted, EventUserLogin, EventUserLoginFailed, EventIPBanned,
	EventBucketCreated, EventBucketUpdated, EventBucketDeleted, EventAutomationSucceeded, EventAutomationFailed}

// MultiSink hands each event to every sink in turn.
type MultiSink []EventSink

// Publish implements EventSink.
func (m MultiSink) Publish(ev Event) {
	for _, s := range m {
		s.Publish(ev)
	}
}

// DurableSink is an EventSink that can also keep an event on disk before
// it returns, for events a client is about to be told of (an acknowledged
// upload must never be missing from the audit log after a crash).
type DurableSink interface {
	EventSink
	// PublishDurable returns once ev is stored, or with the error that
	// kept it from being stored.
	PublishDurable(ctx context.Context, ev Event) error
}

// PublishDurable hands ev to every sink, waiting for those that store it.
func (m MultiSink) PublishDurable(ctx context.Context, ev Event) error {
	var errs []error
	for _, s := range m {
		if d, ok := s.(DurableSink); ok {
			errs = append(errs, d.PublishDurable(ctx, ev))
		} else {
			s.Publish(ev)
		}
	}
	return errors.Join(errs...)
}
