package mft

import (
	"context"
	"errors"
)

// Event names, as listed in the design. Every event is written to the audit
// log; webhooks and automations subscribe to them.
const (
	EventFileUploaded   = "file.uploaded"
	EventFileDownloaded = "file.downloaded"
	EventFileDeleted    = "file.deleted"
	EventFileRenamed    = "file.renamed"
	// EventFileQuarantined: the antivirus found an upload infected; it
	// went to the quarantine instead of its path (Message: the finding).
	EventFileQuarantined       = "file.quarantined"
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

	// Administrative changes: each carries its actor, the id it changed
	// (Target) and the fields sent with their new values (Changes, secrets
	// as "(set)").
	EventUserAPIKeyRegenerated = "user.api_key_regenerated"
	EventGroupCreated          = "group.created"
	EventGroupUpdated          = "group.updated"
	EventGroupDeleted          = "group.deleted"
	EventPermissionCreated     = "permission.created"
	EventPermissionUpdated     = "permission.updated"
	EventPermissionDeleted     = "permission.deleted"
	EventFolderRuleCreated     = "folder_rule.created"
	EventFolderRuleUpdated     = "folder_rule.updated"
	EventFolderRuleDeleted     = "folder_rule.deleted"
	EventFiledropCreated       = "filedrop.created"
	EventFiledropUpdated       = "filedrop.updated"
	EventFiledropDeleted       = "filedrop.deleted"
	EventDropzoneCreated       = "dropzone.created"
	EventDropzoneUpdated       = "dropzone.updated"
	EventDropzoneDeleted       = "dropzone.deleted"
	EventSettingsUpdated       = "settings.updated"
	EventAutomationCreated     = "automation.created"
	EventAutomationUpdated     = "automation.updated"
	EventAutomationDeleted     = "automation.deleted"
	EventWebhookCreated        = "webhook.created"
	EventWebhookUpdated        = "webhook.updated"
	EventWebhookDeleted        = "webhook.deleted"
	EventLinkCreated           = "link.created"
	EventLinkDeleted           = "link.deleted"
	EventBanLifted             = "ban.lifted"
	EventSessionEnded          = "session.ended"
	EventBackupTaken           = "backup.taken"
	EventConnectionCreated     = "connection.created"
	EventConnectionUpdated     = "connection.updated"
	EventConnectionDeleted     = "connection.deleted"
	EventMountCreated          = "mount.created"
	EventMountDeleted          = "mount.deleted"
	// EventQuotaWarning: an upload took a quota's usage past 80 or 95 %;
	// EventQuotaExceeded: to 100 % (Path: the quota's folder).
	EventQuotaWarning  = "quota.warning"
	EventQuotaExceeded = "quota.exceeded"
	// EventQuarantineDeleted: an administrator deleted a quarantined file.
	EventQuarantineDeleted = "quarantine.deleted"
)

// EventNames lists every event, for validation of subscriptions.
var EventNames = []string{EventFileUploaded, EventFileDownloaded, EventFileDeleted, EventFileRenamed, EventFileQuarantined,
	EventFolderCreated, EventFolderDeleted, EventFiledropReceived, EventDropzoneFileConfirmed, EventLinkDownloaded,
	EventUserCreated, EventUserUpdated, EventUserDeleted, EventUserLogin, EventUserLoginFailed, EventIPBanned,
	EventBucketCreated, EventBucketUpdated, EventBucketDeleted, EventAutomationSucceeded, EventAutomationFailed,
	EventUserAPIKeyRegenerated, EventGroupCreated, EventGroupUpdated, EventGroupDeleted,
	EventPermissionCreated, EventPermissionUpdated, EventPermissionDeleted,
	EventFolderRuleCreated, EventFolderRuleUpdated, EventFolderRuleDeleted,
	EventFiledropCreated, EventFiledropUpdated, EventFiledropDeleted, EventDropzoneCreated, EventDropzoneUpdated, EventDropzoneDeleted,
	EventSettingsUpdated, EventAutomationCreated, EventAutomationUpdated, EventAutomationDeleted,
	EventWebhookCreated, EventWebhookUpdated, EventWebhookDeleted, EventLinkCreated, EventLinkDeleted,
	EventBanLifted, EventSessionEnded, EventBackupTaken, EventConnectionCreated, EventConnectionUpdated, EventConnectionDeleted,
	EventMountCreated, EventMountDeleted, EventQuarantineDeleted, EventQuotaWarning, EventQuotaExceeded,
	EventExpectationMet, EventExpectationLate, EventExpectationMissed,
	EventExpectationCreated, EventExpectationUpdated, EventExpectationDeleted, EventAS2Received, EventAS2Sent, EventAS2StationUpdated,
	EventAS2PartnerCreated, EventAS2PartnerUpdated, EventAS2PartnerDeleted, EventAS2CertificateExpires}

// MultiSink hands each event to every sink in turn.
type MultiSink []EventSink

// Publish implements EventSink. The event is stamped (Stamper) before any
// sink sees it, so that all of them see the same id.
func (m MultiSink) Publish(ev Event) {
	m.stamp(&ev)
	for _, s := range m {
		s.Publish(ev)
	}
}

// Stamper is a sink that gives an event its id (and time) before it is
// handed to the sinks: the audit log, whose ids webhooks then carry.
type Stamper interface {
	Stamp(ev *Event)
}

func (m MultiSink) stamp(ev *Event) {
	for _, s := range m {
		if st, ok := s.(Stamper); ok {
			st.Stamp(ev)
		}
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
	m.stamp(&ev)
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

// Publish sends ev to sink, which may be nil (events dropped), with the
// status ok unless one is set: the one way the workflows publish.
func Publish(sink EventSink, ev Event) {
	if sink == nil {
		return
	}
	if ev.Status == "" {
		ev.Status = StatusOK
	}
	sink.Publish(ev)
}
