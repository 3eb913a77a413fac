package providers

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// ConfigError is a setting of the configuration file that cannot be used.
// Its message names the file, the line and the field at fault.
type ConfigError struct {
	Path   string
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Field  string // dotted, such as "providers.local.type"; "" for a syntax error
	Msg    string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigTables tells DecodeConfig which tables of config.toml a reader
// owns and how to word its errors. The file is one, read by several
// packages (this one, tools), each for its own tables; its errors read the
// same whichever package finds them.
type ConfigTables struct {
	// Owns reports whether a top-level key is this reader's: an unknown
	// field elsewhere is another reader's to report. Nil owns every key.
	Owns func(top string) bool
	// Fields lists what the table of an unknown field may hold ("" when
	// there is nothing useful to say).
	Fields func(key []string) string
	// Want says what the field key holds, such as "a table of strings".
	Want func(key []string) string
}

// DecodeConfig decodes data, the content of the configuration file path,
// into v, refusing fields v does not have. Its errors are *ConfigErrors
// (several joined) that name the line and the field. at makes the
// ConfigError of a check made after decoding, placed at key's line.
func DecodeConfig(path string, data []byte, v any, t ConfigTables) (at func(msg string, key ...string) *ConfigError, err error) {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := t.decodeError(path, dec.Decode(v)); err != nil {
		return nil, err
	}
	lines := keyLines(data)
	return func(msg string, key ...string) *ConfigError {
		pos := lines[strings.Join(key, "\x00")]
		return &ConfigError{Path: path, Line: pos[0], Column: pos[1], Field: strings.Join(key, "."), Msg: msg}
	}, nil
}

// decodeError turns an error of the TOML decoder into *ConfigErrors, or
// nil when every error is about keys that are not t's.
func (t ConfigTables) decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for i := range strict.Errors {
			e := &strict.Errors[i]
			k := e.Key()
			if t.Owns != nil && !t.Owns(k[0]) {
				continue
			}
			msg := "unknown field"
			if hint := t.Fields(k); hint != "" {
				msg += ": want " + hint
			}
			errs = append(errs, configError(path, e, msg))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		// "cannot decode TOML integer into struct field
		// providers.ProviderConfig.BaseURL of type string" speaks of Go.
		if rest, ok := strings.CutPrefix(msg, "cannot decode TOML "); ok && len(de.Key()) > 0 {
			got, _, _ := strings.Cut(rest, " ")
			msg = fmt.Sprintf("want %s, not %s", t.Want(de.Key()), article(got))
		}
		return configError(path, de, msg)
	}
	if err != nil {
		return &ConfigError{Path: path, Msg: err.Error()}
	}
	return nil
}

func configError(path string, de *toml.DecodeError, msg string) *ConfigError {
	line, col := de.Position()
	return &ConfigError{Path: path, Line: line, Column: col, Field: strings.Join(de.Key(), "."), Msg: msg}
}

// article puts "a" or "an" before a TOML type name.
func article(typ string) string {
	if strings.ContainsRune("aeiou", rune(typ[0])) {
		return "an " + typ
	}
	return "a " + typ
}

// keyLines maps every key of a TOML document that parses, its parts joined
// by NUL, to its line and column. The decoder does not tell where a key is,
// only where a value it cannot decode is.
func keyLines(data []byte) map[string][2]int {
	lines := map[string][2]int{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	var walk func(prefix []string, kv *unstable.Node)
	add := func(prefix []string, it unstable.Iterator) []string {
		path := slices.Clone(prefix)
		var at unstable.Position
		for it.Next() {
			path = append(path, string(it.Node().Data))
			at = p.Shape(it.Node().Raw).Start
			lines[strings.Join(path, "\x00")] = [2]int{at.Line, at.Column}
		}
		return path
	}
	walk = func(prefix []string, kv *unstable.Node) {
		path := add(prefix, kv.Key())
		if v := kv.Value(); v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				if n := it.Node(); n.Kind == unstable.KeyValue {
					walk(path, n)
				}
			}
		}
	}
	for p.NextExpression() {
		switch e := p.Expression(); e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = add(nil, e.Key())
		case unstable.KeyValue:
			walk(table, e)
		}
	}
	return lines
}

// IsEnvName reports whether s is a portable environment variable name.
func IsEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

// CheckHeaders reports the first header of h that cannot be sent: a name
// that is not an HTTP token, or a value with a line break or a NUL. It
// never quotes a value, which may be a secret.
func CheckHeaders(h map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if !isToken(k) {
			return fmt.Errorf("%q is not a header name", k)
		}
		if strings.ContainsAny(h[k], "\r\n\x00") {
			return fmt.Errorf("the value of %s holds a line break or a NUL", k)
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token, as a header name must be.
func isToken(s string) bool {
	for _, r := range s {
		if r >= 0x7f || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return s != ""
}
