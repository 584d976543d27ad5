// Package setting reads otpgate's settings from an environment. Each part
// of otpgate declares its settings as a struct with envconfig's tags
// (split_words, default, desc); the gateway composes them, and this package
// reads them from an explicit list of KEY=value pairs rather than from the
// process, so that tests can load settings side by side. Names, nesting and
// documentation follow github.com/kelseyhightower/envconfig, which lists the
// variables; only the look-up is this package's.
//
// A field tagged file:"true" may instead be read from the file that the
// same variable plus _FILE names (Kubernetes mounts secrets as files).
package setting

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Problem is one setting's problem; Name is the variable's name, or its
// end when a part does not know the prefix it is read under.
type Problem struct {
	Name string
	Text string
}

func (p *Problem) Error() string { return p.Name + ": " + p.Text }

// Problems returns every *Problem inside err, in order, looking through
// errors.Join and %w wrapping (errors.As stops at the first).
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(err error) {
		switch u := err.(type) { //nolint:errorlint // this walks the wrapping itself, to find every problem
		case nil:
		case *Problem:
			out = append(out, u)
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Prefixed returns err's problems with prefix before each name (a part
// names its settings without the prefix it is read under), and err itself
// when it holds none.
func Prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	ps := Problems(err)
	if len(ps) == 0 {
		return []error{err}
	}
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = &Problem{Name: prefix + p.Name, Text: p.Text}
	}
	return out
}

// Problemf returns a Problem.
func Problemf(name, format string, args ...any) error {
	return &Problem{Name: name, Text: fmt.Sprintf(format, args...)}
}

// Var is one variable of a settings struct.
type Var struct {
	Key     string // the variable, e.g. OTPGATE_LDAP_URL
	Default string
	Desc    string
	File    bool // Key + "_FILE" may name a file holding the value
	field   reflect.Value
	typ     string
}

// Vars lists the variables of spec (a pointer to a settings struct) under
// prefix, in declaration order.
func Vars(prefix string, spec any) []Var {
	var vars []Var
	tmpl := template.Must(template.New("vars").Funcs(template.FuncMap{
		"visit": func(key string, field reflect.Value, tags reflect.StructTag) string {
			vars = append(vars, Var{Key: key, Default: tags.Get("default"), Desc: tags.Get("desc"),
				File: tags.Get("file") == "true", field: field, typ: field.Type().String()})
			return ""
		},
	}).Parse(`{{range .}}{{visit .Key .Field .Tags}}{{end}}`))
	if err := envconfig.Usaget(prefix, spec, io.Discard, tmpl); err != nil {
		panic(fmt.Sprintf("setting: %T is not a settings struct: %v", spec, err)) // a programming error
	}
	return vars
}

// Names lists every variable otpgate reads for spec, _FILE forms included.
func Names(prefix string, spec any) []string {
	var names []string
	for _, v := range Vars(prefix, spec) {
		names = append(names, v.Key)
		if v.File {
			names = append(names, v.Key+"_FILE")
		}
	}
	return names
}

// Load sets spec's fields from environ (KEY=value pairs) or their
// defaults, and reports every problem at once: values that do not parse,
// files that cannot be read, and a variable set both plainly and as _FILE.
// Variables that no spec has are the caller's to find (Names, Nearest), as
// several specs may share a prefix.
func Load(prefix string, spec any, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var problems []error
	for _, v := range Vars(prefix, spec) {
		value, set := env[v.Key]
		if file, ok := env[v.Key+"_FILE"]; ok && v.File {
			if set {
				problems = append(problems, Problemf(v.Key, "set both %s and %s_FILE; set only one", v.Key, v.Key))
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				problems = append(problems, Problemf(v.Key+"_FILE", "cannot read: %v", err))
				continue
			}
			value, set = strings.TrimRight(string(b), "\r\n"), true
		}
		if !set {
			value = v.Default
		}
		if err := decode(v.field, value); err != nil {
			problems = append(problems, Problemf(v.Key, "%q is not a valid %s", value, typeHint(v.typ)))
		}
	}
	return errors.Join(problems...)
}

// decode sets field from s, for the kinds settings use.
func decode(field reflect.Value, s string) error {
	switch field.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		field.SetInt(int64(d))
		return nil
	case []string:
		var list []string
		if strings.TrimSpace(s) != "" {
			list = strings.Split(s, ",")
		}
		field.Set(reflect.ValueOf(list))
		return nil
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		field.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		field.SetInt(int64(n))
	default:
		panic("setting: unsupported field type " + field.Type().String()) // a programming error
	}
	return nil
}

func typeHint(typeName string) string {
	switch typeName {
	case "time.Duration":
		return "duration (like 30s, 5m, 12h)"
	case "bool":
		return "boolean (true or false)"
	case "int":
		return "whole number"
	}
	return typeName
}

// Nearest returns the name within a small edit distance of k, or "":
// the name an operator most likely meant.
func Nearest(k string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := editDistance(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Usage writes a table of every variable: name, default, meaning; a
// file:"true" variable's _FILE form follows it.
func Usage(prefix string, spec any, w io.Writer) {
	for _, v := range Vars(prefix, spec) {
		fmt.Fprintf(w, "%s\t%s\t%s\n", v.Key, v.Default, v.Desc)
		if v.File {
			fmt.Fprintf(w, "%s_FILE\t\tfile holding %s\n", v.Key, strings.TrimPrefix(v.Key, prefix+"_"))
		}
	}
}

// TrimAll drops the spaces around each item of a comma-separated setting,
// and the empty items, so "a, b,," is [a b].
func TrimAll(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
