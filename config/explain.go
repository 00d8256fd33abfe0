package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Setting is one key of the effective configuration: its value as TOML
// and where it came from.
type Setting struct {
	Key, Value string
	// Source is "default", "file" or the environment variable's name.
	Source string
}

// secretKeys are shown as "(set)" when set.
var secretKeys = map[string]bool{"smtp.password": true, "database.dsn": true}

// Explain loads the configuration as Load does and returns every key with
// its effective value (secrets masked) and its source, in the order of
// config.example.toml.
func Explain(path string, environ []string) ([]Setting, error) {
	cfg, err := Load(path, environ)
	if err != nil {
		return nil, err
	}
	inFile := map[string]bool{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		var raw map[string]map[string]any
		if err := toml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		for section, keys := range raw {
			for k := range keys {
				inFile[section+"."+k] = true
			}
		}
	}
	env := map[string]bool{}
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok {
			env[k] = true
		}
	}
	var out []Setting
	eachSetting(cfg, func(key, name string, f reflect.Value) {
		s := Setting{Key: key, Value: tomlValue(f), Source: "default"}
		if env[name] {
			s.Source = name
		} else if inFile[key] {
			s.Source = "file"
		}
		if secretKeys[key] && s.Value != `""` {
			s.Value = `"(set)"`
		}
		out = append(out, s)
	})
	return out, nil
}

// tomlValue writes a setting's value as TOML.
func tomlValue(v reflect.Value) string {
	if d, ok := v.Interface().(Duration); ok {
		return fmt.Sprintf("%q", d.D().String())
	}
	switch v.Kind() {
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	case reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = fmt.Sprintf("%q", v.Index(i).String())
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}
