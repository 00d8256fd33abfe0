package server

import (
	"reflect"
	"sort"
	"testing"

	"depot/files"
	"depot/mft"
)

// documented pairs each wire type with the schema that describes it in
// openapi.yaml: what a view shows and what a request takes. A field added
// to a type and not to the document fails here, before any test has to
// send it. A request schema also lists the view's fields as readOnly (a
// client may send back what it read, unchanged); those are not compared.
var documented = []struct {
	schema string
	v      any
}{
	{"User", userView{}}, {"UserInput", userRequest{}},
	{"Group", groupView{}}, {"GroupInput", groupRequest{}},
	{"Permission", permissionView{}}, {"PermissionInput", permissionRequest{}},
	{"Folder", folderView{}}, {"FolderInput", folderRuleRequest{}},
	{"Bucket", bucketView{}}, {"BucketInput", bucketRequest{}},
	{"Settings", settingsView{}}, {"SettingsInput", settingsRequest{}},
	{"Filedrop", filedropView{}}, {"FiledropInput", filedropRequest{}}, {"PublicFiledrop", publicFiledrop{}},
	{"Dropzone", dropzoneView{}}, {"DropzoneInput", dropzoneRequest{}},
	{"DropzoneFile", dropzoneFileView{}}, {"DropzoneFileInput", dropzoneFileRequest{}},
	{"Link", linkView{}}, {"LinkInput", linkRequest{}},
	{"Connection", connectionView{}}, {"ConnectionInput", connectionRequest{}},
	{"AS2Station", as2StationView{}}, {"AS2StationInput", as2StationRequest{}},
	{"AS2Partner", as2PartnerView{}}, {"AS2PartnerInput", as2PartnerRequest{}}, {"AS2Message", mft.AS2Message{}},
	{"Quarantined", files.Quarantined{}},
	{"Expectation", expectationView{}}, {"ExpectationInput", expectationRequest{}},
	{"Webhook", webhookView{}}, {"WebhookInput", webhookRequest{}},
	{"Automation", mft.Automation{}}, {"AutomationInput", automationRequest{}},
	{"Run", runView{}}, {"Message", messageView{}}, {"Attachment", attachmentView{}},
	{"Validation", validationView{}}, {"ValidationInput", validationRequest{}},
	{"TriggerToken", triggerView{}}, {"Login", loginRequest{}},
	{"Delivery", mft.Delivery{}}, {"AuditEvent", mft.Event{}},
	{"Rename", renameRequest{}}, {"FolderCreate", folderRequest{}}, {"Deliver", deliverRequest{}},
}

func TestOpenAPI_SchemasMatchTheWireTypes(t *testing.T) {
	model := openAPIModel(t)
	schemas := model.Components.Schemas
	for _, d := range documented {
		proxy, ok := schemas.Get(d.schema)
		if !ok {
			t.Errorf("openapi.yaml has no schema %s (for %T)", d.schema, d.v)
			continue
		}
		props := map[string]bool{}
		for name, p := range proxy.Schema().Properties.FromOldest() {
			if ro := p.Schema().ReadOnly; ro == nil || !*ro {
				props[name] = true
			}
		}
		fields := jsonNames(reflect.TypeOf(d.v))
		delete(fields, "trigger_token_hash") // mft.Automation's, never shown
		missing, extra := difference(fields, props), difference(props, fields)
		if len(missing) > 0 {
			t.Errorf("schema %s lacks the fields of %T: %v", d.schema, d.v, missing)
		}
		if len(extra) > 0 {
			t.Errorf("schema %s names fields %T does not have: %v", d.schema, d.v, extra)
		}
	}
}

// difference returns the keys of a that b lacks, sorted.
func difference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
