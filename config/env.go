package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts every environment variable Depot reads.
const EnvPrefix = "DEPOT_"

// applyEnv sets each key that has a DEPOT_<SECTION>_<KEY> variable in
// environ. Lists are comma-separated. A value that does not parse is an
// error naming the variable.
func applyEnv(cfg *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	if v, ok := env["DEPOT_ADMIN_API_KEY"]; ok {
		cfg.AdminAPIKey = v
	}
	if v, ok := env["DEPOT_ADMIN_KEY_FILE"]; ok {
		cfg.AdminKeyFile = v
	}
	var err error
	eachSetting(cfg, func(key, name string, f reflect.Value) {
		if val, ok := env[name]; ok && err == nil {
			if e := setField(f, val); e != nil {
				err = fmt.Errorf("%s (%s): %w", name, key, e)
			}
		}
	})
	return err
}

// eachSetting calls fn with every setting of cfg, in declaration order:
// its key (section.key), its environment variable and its field.
func eachSetting(cfg *Config, fn func(key, envName string, f reflect.Value)) {
	root := reflect.ValueOf(cfg).Elem()
	for i := range root.NumField() {
		section := root.Type().Field(i).Tag.Get("toml")
		if section == "" || section == "-" {
			continue
		}
		sv := root.Field(i)
		for j := range sv.NumField() {
			key := sv.Type().Field(j).Tag.Get("toml")
			fn(section+"."+key, EnvPrefix+strings.ToUpper(section+"_"+key), sv.Field(j))
		}
	}
}

// otherEnv are the DEPOT_ variables that are not settings: the first
// administrator's key, the key of `depot backup`, the diagnosis switches and
// the test suite's.
var otherEnv = []string{"DEPOT_ADMIN_API_KEY", "DEPOT_ADMIN_KEY_FILE", "DEPOT_API_KEY", "DEPOT_CPU_PROFILE", "DEPOT_DEBUG_LISTEN",
	"DEPOT_REQUIRE_TOOLS", "DEPOT_AXE_CORE", "DEPOT_TEST_ARTIFACTS", "DEPOT_TEST_FTP_PASSWORD", "DEPOT_TEST_DATABASE"}

// UnknownEnv returns the DEPOT_ variables in environ that name no setting
// and nothing else Depot reads, such as a misspelled DEPOT_HTTP_LISTN,
// which would otherwise be ignored without a word.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	eachSetting(&Config{}, func(_, name string, _ reflect.Value) { known[name] = true })
	for _, k := range otherEnv {
		known[k] = true
	}
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix) && !known[k] {
			out = append(out, k)
		}
	}
	return out
}

// Keys lists every TOML key as section.key, in declaration order.
func Keys() []string {
	var keys []string
	eachSetting(&Config{}, func(key, _ string, _ reflect.Value) { keys = append(keys, key) })
	return keys
}

func setField(f reflect.Value, val string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(val))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%q is not true or false", val)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", val)
		}
		f.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", val)
		}
		f.SetFloat(n)
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(val, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}
