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
	"strconv"
	"strings"

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
