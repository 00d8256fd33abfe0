package mft

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
