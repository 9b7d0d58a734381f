// Package yamlx loads hand-edited YAML files (uar.yaml, policy.yaml) into a
// *yaml.Node with limits, so a hostile or broken file stays cheap: one
// document only, a bounded size, depth and number of aliases, and a
// bounded number of nodes once aliases are expanded (a "billion laughs"
// file of nested aliases is refused before anything walks it). Errors
// name the file and the line.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Default limits; generous for any real configuration or policy.
const (
	DefaultMaxBytes   = 4 << 20
	DefaultMaxNodes   = 500_000
	DefaultMaxAliases = 10_000
	DefaultMaxDepth   = 200
)

// Limits bounds what Decode accepts; a zero field means its default.
type Limits struct {
	MaxBytes   int // size of the file
	MaxNodes   int // nodes of the document with every alias expanded
	MaxAliases int // alias nodes (*name) in the document
	MaxDepth   int // nesting of mappings and sequences, aliases expanded
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultMaxNodes
	}
	if l.MaxAliases <= 0 {
		l.MaxAliases = DefaultMaxAliases
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Error is a file that Decode refuses, located by line (and column when
// known; 0 otherwise).
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
	limit  bool // over one of the Limits: Unwrap gives ErrLimit
}

// Unwrap returns ErrLimit for a file over one of the Limits.
func (e *Error) Unwrap() error {
	if e.limit {
		return ErrLimit
	}
	return nil
}

func (e *Error) Error() string {
	switch {
	case e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrLimit is wrapped by the errors of a file over one of the Limits.
var ErrLimit = errors.New("over a limit")

// Decode parses data (the contents of file, named only in errors) as
// exactly one YAML document and returns its root node, or nil when the
// document is empty. Aliases are left in the tree (Kind AliasNode); the
// limits guarantee that walking it with every alias followed visits at
// most lim.MaxNodes nodes.
//
// Errors are *Error values: a syntax error (with its line), a second
// document ("---"), or a file over a limit (wrapping ErrLimit).
func Decode(file string, data []byte, lim Limits) (*yaml.Node, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), lim.MaxBytes), limit: true}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(file, err)
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(file, err)
	default:
		// The document node sits at its "---" marker.
		return nil, &Error{File: file, Line: second.Line, Column: second.Column, Msg: "a second YAML document (---) is not allowed: keep everything in one document"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	w := &walker{file: file, lim: lim, memo: map[*yaml.Node]measured{}}
	if err := w.countAliases(root, 0); err != nil {
		return nil, err
	}
	if _, err := w.size(root, 1); err != nil {
		return nil, err
	}
	return root, nil
}

// syntaxError lifts the line out of yaml.v3's "yaml: line N: msg".
func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, tail
			}
		}
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

type walker struct {
	file    string
	lim     Limits
	aliases int
	memo    map[*yaml.Node]measured // expanded size and height of a node
}

func (w *walker) fail(n *yaml.Node, format string, args ...any) error {
	return &Error{File: w.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...), limit: true}
}

// countAliases counts alias nodes without following them.
func (w *walker) countAliases(n *yaml.Node, depth int) error {
	if depth > w.lim.MaxDepth {
		return w.fail(n, "nested more than %d levels deep", w.lim.MaxDepth)
	}
	if n.Kind == yaml.AliasNode {
		w.aliases++
		if w.aliases > w.lim.MaxAliases {
			return w.fail(n, "more than %d aliases (*name)", w.lim.MaxAliases)
		}
		return nil
	}
	for _, c := range n.Content {
		if err := w.countAliases(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// size returns the number of nodes under n with aliases expanded, failing
// at the node where the count passes MaxNodes or the depth MaxDepth. Each
// node's size and height are computed once, so the cost is linear in the
// file.
func (w *walker) size(n *yaml.Node, depth int) (int, error) {
	s, _, err := w.measure(n, depth)
	return s, err
}

type measured struct{ size, height int }

func (w *walker) measure(n *yaml.Node, depth int) (size, height int, err error) {
	if depth > w.lim.MaxDepth {
		return 0, 0, w.fail(n, "nested more than %d levels deep once aliases are expanded", w.lim.MaxDepth)
	}
	if m, ok := w.memo[n]; ok {
		if m.size < 0 {
			return 0, 0, w.fail(n, "an alias refers to the node that contains it")
		}
		if depth+m.height > w.lim.MaxDepth {
			return 0, 0, w.fail(n, "nested more than %d levels deep once aliases are expanded", w.lim.MaxDepth)
		}
		return m.size, m.height, nil
	}
	w.memo[n] = measured{size: -1} // in progress
	size = 1
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 0, 0, w.fail(n, "alias to an unknown anchor")
		}
		s, h, err := w.measure(n.Alias, depth)
		if err != nil {
			return 0, 0, err
		}
		size, height = size+s, h
	} else {
		for _, c := range n.Content {
			s, h, err := w.measure(c, depth+1)
			if err != nil {
				return 0, 0, err
			}
			size += s
			height = max(height, h+1)
			if size > w.lim.MaxNodes {
				return 0, 0, w.fail(c, "expands to more than %d nodes through aliases (*name); refusing it", w.lim.MaxNodes)
			}
		}
	}
	if size > w.lim.MaxNodes {
		return 0, 0, w.fail(n, "expands to more than %d nodes through aliases (*name); refusing it", w.lim.MaxNodes)
	}
	w.memo[n] = measured{size: size, height: height}
	return size, height, nil
}

// DecodeStrict is Decode followed by decoding the document into out (a
// pointer, typically to a struct with yaml tags) strictly: a key out does
// not know, or a value of the wrong type (a float such as 1000.7 for an
// int, a list for a string), is an error naming the file, the line and the
// key's dotted path ("okta.page_size"). It returns every such problem
// (errors.Join of *Error values), nil for a valid file, and nothing is
// decoded into out from an empty document.
func DecodeStrict(file string, data []byte, lim Limits, out any) error {
	root, err := Decode(file, data, lim)
	if err != nil || root == nil {
		return err
	}
	// yaml.v3 truncates a float into an int field (1000.7 -> 1000): catch
	// that first, walking the node tree along out's type.
	var errs []error
	if t := reflect.TypeOf(out); t != nil {
		checkWhole(file, root, t, "", &errs)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(out)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(file, err)
	}
	paths := map[int]string{}
	linePaths(root, "", paths)
	for _, m := range te.Errors {
		e := &Error{File: file, Msg: m}
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if n, tail, ok := strings.Cut(rest, ": "); ok {
				if v, err := strconv.Atoi(n); err == nil {
					e.Line, e.Msg = v, tail
				}
			}
		}
		if f, ok := strings.CutPrefix(e.Msg, "field "); ok {
			if name, _, ok := strings.Cut(f, " not found in type "); ok {
				e.Msg = fmt.Sprintf("unknown key %q", name)
			}
		}
		if p := paths[e.Line]; p != "" {
			e.Msg = p + ": " + e.Msg
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// linePaths maps each line that starts a key or a value to the dotted
// path of that key (the first one on the line); aliases are not followed.
func linePaths(n *yaml.Node, path string, out map[int]string) {
	set := func(line int, p string) {
		if _, ok := out[line]; !ok && p != "" {
			out[line] = p
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			set(k.Line, p)
			set(v.Line, p)
			linePaths(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			set(c.Line, p)
			linePaths(c, p, out)
		}
	}
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// checkWhole reports every float scalar that would be decoded into an
// integer field of t (yaml.v3 would truncate it silently).
func checkWhole(file string, n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == durationType {
		return
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
			msg := fmt.Sprintf("want a whole number, got %s", n.Value)
			if path != "" {
				msg = path + ": " + msg
			}
			*errs = append(*errs, &Error{File: file, Line: n.Line, Column: n.Column, Msg: msg})
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				checkWhole(file, c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				checkWhole(file, n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value), errs)
			}
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := map[string]reflect.Type{}
		structFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				checkWhole(file, n.Content[i+1], ft, joinKey(path, n.Content[i].Value), errs)
			}
		}
	}
}

// structFields maps the YAML keys of t's fields (inline ones flattened) to
// their types, as yaml.v3 names them.
func structFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				structFields(ft, out)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
