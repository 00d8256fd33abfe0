package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"unicode/utf8"

	"depot/mft"
)

// The rules every JSON request body meets before it is decoded, for what
// encoding/json lets through:
//
//   - Field names match exactly. encoding/json would fill "password" from
//     "PASSWORD"; here a name in another case is an unknown field, so no
//     value reaches a field under a name the audit's masking does not know.
//   - null is refused on every field, naming it, except where a field's
//     type takes it (expires_at: null is "never").
//   - Every string is bounded, and has no control characters: at most
//     maxString bytes on one line; a field tagged depot:"path" (paths,
//     URLs) at most maxPath; one tagged depot:"text" (descriptions,
//     messages, PEM keys) at most maxText, with tabs and line breaks. The
//     files API's own paths (depot:"filepath") answer 400, as it answers
//     a bad path in a query; the others 422.

const (
	maxString = 1024
	maxPath   = 4096
	maxText   = 64 << 10
)

// nullable is a field type that gives null a meaning of its own.
type nullable interface{ acceptsNull() }

var nullableType = reflect.TypeFor[nullable]()

// stringRule is what a string field may hold.
type stringRule struct {
	max       int
	multiline bool
	path      bool // refused as the files API refuses a bad path: 400
}

func ruleOf(tag string) stringRule {
	switch tag {
	case "text":
		return stringRule{max: maxText, multiline: true}
	case "path":
		return stringRule{max: maxPath}
	case "filepath":
		return stringRule{max: maxPath, path: true}
	}
	return stringRule{max: maxString}
}

// checkFields checks a JSON object against the struct type dst decodes
// it into; errors are EINVALID naming the field.
func checkFields(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil // the decoder reports malformed JSON in its own words
	}
	return checkValue(v, reflect.TypeOf(dst), "", ruleOf(""))
}

func checkValue(v any, t reflect.Type, name string, rule stringRule) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		if t.Implements(nullableType) || reflect.PointerTo(t).Implements(nullableType) || name == "" {
			return nil
		}
		return mft.Errorf(mft.EINVALID, "Field %q cannot be null: leave it out instead.", name)
	}
	switch x := v.(type) {
	case string:
		return checkString(x, name, rule)
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil // a wrong type: the decoder names it
		}
		for _, e := range x {
			if err := checkValue(e, t.Elem(), name, rule); err != nil {
				return err
			}
		}
	case map[string]any:
		return checkObject(x, t, name, rule)
	}
	return nil
}

func checkObject(obj map[string]any, t reflect.Type, name string, rule stringRule) error {
	switch {
	case t.Kind() == reflect.Map:
		for k, e := range obj {
			if err := checkString(k, name, ruleOf("")); err != nil {
				return err
			}
			if err := checkValue(e, t.Elem(), name+"."+k, rule); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() != reflect.Struct || t.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()):
		return nil
	}
	fields := structFields(t)
	for k, e := range obj {
		f, ok := fields[k]
		if !ok {
			return unknownField(k, fields)
		}
		if err := checkValue(e, f.Type, k, ruleOf(f.Tag.Get("depot"))); err != nil {
			return err
		}
	}
	return nil
}

// unknownField names a field the request type does not take, and the one
// it may have meant when only the case differs.
func unknownField(k string, fields map[string]reflect.StructField) error {
	for name := range fields {
		if strings.EqualFold(name, k) {
			return mft.Errorf(mft.EINVALID, "Unknown field %q (field names are case-sensitive: %q).", k, name)
		}
	}
	return mft.Errorf(mft.EINVALID, "Unknown field %q.", k)
}

func checkString(s, name string, rule stringRule) error {
	if name == "" {
		name = "value"
	}
	code := mft.EINVALID
	if rule.path {
		code = mft.EMALFORMED
	}
	if len(s) > rule.max {
		return mft.Errorf(code, "Field %q is longer than %d bytes.", name, rule.max)
	}
	if !utf8.ValidString(s) {
		return mft.Errorf(code, "Field %q is not valid UTF-8.", name)
	}
	for _, r := range s {
		if r < 0x20 && !(rule.multiline && (r == '\t' || r == '\n' || r == '\r')) || r == 0x7f {
			return mft.Errorf(code, "Field %q contains a control character (U+%04X).", name, r)
		}
	}
	return nil
}

// structFields maps the JSON names of a struct type's fields (through
// embedded structs) to the fields.
func structFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "":
			inner := f.Type
			for inner.Kind() == reflect.Pointer {
				inner = inner.Elem()
			}
			if inner.Kind() == reflect.Struct {
				for n, g := range structFields(inner) {
					out[n] = g
				}
			}
		case !f.IsExported():
		case tag == "":
			out[f.Name] = f
		default:
			out[tag] = f
		}
	}
	return out
}
