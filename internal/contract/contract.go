// Package contract holds a test server to its OpenAPI document: every
// request a test sends through it and every answer it gets is checked.
//   - A request on a path the document lacks must be answered 404 or 405;
//     anything else means a route is missing from the document.
//   - A request the document refuses (a wrong type, a missing field) must
//     be answered with a 4xx: the hostile-input tests send many.
//   - Every answer, errors included, must have a documented status,
//     content type and body; JSON bodies are checked in strict mode, so a
//     property the document does not name fails too.
//
// Bodies are checked when JSON and under bodyCap; uploads and downloads
// stream past unread.
package contract

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

const bodyCap = 1 << 20

var contract struct {
	once sync.Once
	// judging serializes the checks: the validator renders schemas lazily
	// and is not safe for concurrent use (the race detector says so).
	judging sync.Mutex
	v       validator.Validator
	doc     *v3.Document
	err     error
}

// load parses the document once for the whole test binary (every caller
// passes the same one).
func load(tb testing.TB, document []byte) (validator.Validator, *v3.Document) {
	tb.Helper()
	contract.once.Do(func() {
		doc, err := libopenapi.NewDocument(document)
		if err != nil {
			contract.err = err
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			contract.err = fmt.Errorf("build model: %w", err)
			return
		}
		contract.doc = &model.Model
		contract.v = validator.NewValidatorFromV3Model(&model.Model, config.WithStrictMode(), config.WithoutSecurityValidation(),
			// Clients send many headers the API never reads (browsers above
			// all); the ones it reads are documented as parameters.
			config.WithStrictIgnorePaths("$.headers.*", "$.cookies.*"))
	})
	if contract.err != nil {
		tb.Fatalf("openapi.yaml: %v", contract.err)
	}
	return contract.v, contract.doc
}

// Check returns the Wrap of a test server (app.HTTP.Wrap) for document: it lets each exchange
// through untouched, checks it once the handler has returned (in the
// background, so that the server's timing is its own: an early refusal
// still closes the connection at once), and reports what breaks the
// contract when the test ends. Call it before the server starts, so that
// the report comes after the server has closed.
func Check(tb testing.TB, document []byte) func(http.Handler) http.Handler {
	v, doc := load(tb, document)
	var mu sync.Mutex
	var broken []string
	var checks sync.WaitGroup
	tb.Cleanup(func() {
		checks.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, b := range broken {
			tb.Errorf("openapi.yaml: %s", b)
		}
	})
	report := func(format string, args ...any) {
		mu.Lock()
		broken = append(broken, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req := r.Clone(r.Context()) // to judge: the handler may change what it gets
			// The handler reads the body through a copy of the request: the
			// server's own stays untouched, so that it treats a body left
			// unread (an early refusal) as it would without the check.
			in := &teeBody{ReadCloser: r.Body}
			if r.Body != nil && r.Body != http.NoBody {
				r = r.WithContext(r.Context())
				r.Body = in
			}
			out := &teeWriter{ResponseWriter: w}
			next.ServeHTTP(out, r)
			if out.status == 0 {
				out.WriteHeader(http.StatusOK)
			}
			in = in.freeze()
			checks.Go(func() {
				contract.judging.Lock()
				msg := judge(v, doc, req, in, out)
				contract.judging.Unlock()
				if msg != "" {
					report("%s %s → %d: %s", req.Method, req.URL.RequestURI(), out.status, msg)
				}
			})
		})
	}
}

// judge returns what breaks the contract in one exchange, or "".
func judge(v validator.Validator, doc *v3.Document, r *http.Request, in *teeBody, out *teeWriter) string {
	item, errs, _ := paths.FindPath(r, doc, nil)
	if len(errs) > 0 {
		if out.status == http.StatusNotFound || out.status == http.StatusMethodNotAllowed {
			return ""
		}
		return "the route is not in the document: " + errs[0].Message
	}
	r.Body, r.Header = http.NoBody, r.Header.Clone()
	switch raw := rawBody(item, r.Method); {
	case raw != "":
		// Uploads take the bytes whatever their label (the tests' client
		// labels every body JSON); judge the rest of the request.
		r.Header.Set("Content-Type", raw)
	case in.done && !in.over:
		// The API reads a JSON body whatever its label (curl -d says
		// application/x-www-form-urlencoded): judge it as JSON.
		r.Header.Set("Content-Type", "application/json")
		r.Body = io.NopCloser(bytes.NewReader(in.buf.Bytes()))
	default:
		r.Header.Del("Content-Type") // a body not read in full is not judged
		r.ContentLength = 0
	}
	if ok, errs := v.ValidateHttpRequestSync(r); !ok && out.status < 400 {
		return "answered a request the document refuses: " + joinErrors(errs)
	}
	resp := &http.Response{StatusCode: out.status, Header: out.header, Request: r, Body: http.NoBody}
	switch {
	case r.Method == http.MethodHead:
		resp.Header.Del("Content-Type") // out.header is the check's own copy
	case out.keep && !out.over:
		resp.Body = io.NopCloser(bytes.NewReader(out.buf.Bytes()))
	}
	if ok, errs := v.ValidateHttpResponse(r, resp); !ok {
		return "the answer is not as documented: " + joinErrors(errs) + " body: " + clip(out.buf.String())
	}
	return ""
}

// rawBody returns the media type of the operation's body when it is not
// JSON (an upload), or "".
func rawBody(item *v3.PathItem, method string) string {
	op := map[string]*v3.Operation{http.MethodPost: item.Post, http.MethodPut: item.Put, http.MethodPatch: item.Patch}[method]
	if op == nil || op.RequestBody == nil || op.RequestBody.Content == nil {
		return ""
	}
	if _, ok := op.RequestBody.Content.Get("application/json"); ok {
		return ""
	}
	for name := range op.RequestBody.Content.KeysFromOldest() {
		return name
	}
	return ""
}

func joinErrors(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" {
			b.WriteString(" (" + e.Reason + ")")
		}
		for _, s := range e.SchemaValidationErrors {
			b.WriteString(" [" + s.FieldPath + ": " + s.Reason + "]")
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// teeBody keeps a copy of a request body (up to bodyCap) as the handler
// reads it.
type teeBody struct {
	io.ReadCloser
	done, over bool
	buf        bytes.Buffer
}

// freeze returns a copy of what was read so far, for a check that runs
// after the handler.
func (t *teeBody) freeze() *teeBody {
	c := &teeBody{done: t.done, over: t.over}
	c.buf.Write(t.buf.Bytes())
	return c
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if !t.over {
		if t.buf.Len()+n > bodyCap {
			t.over = true
		} else {
			t.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		t.done = true
	}
	return n, err
}

// teeWriter keeps the status, the headers and a copy of a JSON answer.
type teeWriter struct {
	http.ResponseWriter
	status     int
	header     http.Header
	keep, over bool
	buf        bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status, t.header = code, t.Header().Clone()
		t.keep = isJSON(t.header.Get("Content-Type"))
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if t.keep && !t.over {
		if t.buf.Len()+len(p) > bodyCap {
			t.over = true
		} else {
			t.buf.Write(p)
		}
	}
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines) as it would without the check.
func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *teeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
