package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// TestOpenAPI_DocumentIsValid checks openapi.yaml against the OpenAPI 3.1
// schema.
func TestOpenAPI_DocumentIsValid(t *testing.T) {
	doc, err := libopenapi.NewDocument(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
	}
}

// TestOpenAPI_EveryRouteIsDocumented compares the router with the
// document both ways: a route missing from the document, or an operation
// the server does not have, fails.
func TestOpenAPI_EveryRouteIsDocumented(t *testing.T) {
	model := openAPIModel(t)
	documented := map[string]bool{}
	for path, item := range model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	s := &Server{Metrics: http.NotFoundHandler()} // every optional route on
	param := regexp.MustCompile(`:(\w+)`)
	served := map[string]bool{}
	for _, r := range s.routes().Routes() {
		path := strings.Replace(param.ReplaceAllString(r.Path, "{$1}"), "/*", "/{asset}", 1)
		served[r.Method+" "+path] = true
	}
	if len(served) < 100 {
		t.Fatalf("only %d routes found; the router changed shape", len(served))
	}
	missing, extra := difference(served, documented), difference(documented, served)
	for _, r := range missing {
		t.Errorf("route not in openapi.yaml: %s", r)
	}
	for _, op := range extra {
		t.Errorf("openapi.yaml documents a route the server does not have: %s", op)
	}
}

// openAPIModel parses openapi.yaml into its OpenAPI 3 model.
func openAPIModel(t *testing.T) *v3.Document {
	t.Helper()
	doc, err := libopenapi.NewDocument(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	return &model.Model
}
