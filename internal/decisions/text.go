package decisions

import (
	"regexp"
	"strings"
	"unicode"
)

// Links to mail as wiki markup and Markdown write them; each becomes its
// address. Go's regexp runs in linear time, so hostile text stays cheap.
var mailLinks = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\[[^\]|]*\|\s*mailto:([^\]\s|]+)\s*\]`), // [text|mailto:a@x]
	regexp.MustCompile(`(?i)\[\s*mailto:([^\]\s|]+)\s*\]`),          // [mailto:a@x]
	regexp.MustCompile(`(?i)\[[^\]]*\]\(\s*mailto:([^)\s]+)\s*\)`),  // [text](mailto:a@x)
	regexp.MustCompile(`(?i)<\s*mailto:([^>\s]+)\s*>`),              // <mailto:a@x>
}

func normaliseLinks(s string) string {
	if !strings.Contains(strings.ToLower(s), "mailto:") {
		return s
	}
	for _, re := range mailLinks {
		s = re.ReplaceAllString(s, "$1")
	}
	return s
}

// Wiki macros whose content is set apart from the author's words.
var wikiBlocks = map[string]bool{"quote": true, "code": true, "noformat": true, "panel": true, "expand": true}

// maskBlocks blanks (with spaces) the parts of one line of plain text that
// sit inside a wiki {quote}/{code}/{noformat}/{panel}/{expand} block or a
// ``` fence. block is the block open at the start of the line ("" for
// none); it returns the visible line and the block open at its end.
func maskBlocks(line, block string) (string, string) {
	if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
		switch block {
		case "":
			return "", "fence"
		case "fence":
			return "", ""
		}
	}
	if block == "fence" {
		return "", block
	}
	b := []byte(line)
	low := asciiLower(line) // once per line: searching it stays linear
	for i := 0; i < len(line); {
		if block != "" {
			j := strings.Index(low[i:], "{"+block+"}")
			if j < 0 {
				blank(b[i:])
				return string(b), block
			}
			end := i + j + len(block) + 2
			blank(b[i:end])
			i, block = end, ""
			continue
		}
		j := strings.IndexByte(line[i:], '{')
		if j < 0 {
			break
		}
		j += i
		name, end := wikiMacro(line, j)
		if name == "" {
			i = j + 1
			continue
		}
		blank(b[j:end])
		i, block = end, name
	}
	return string(b), block
}

// wikiMacro reads an opening macro tag such as {quote}, {code} or
// {code:title=x|borderStyle=solid} at s[i] and returns its name and the
// index after it; "" when there is none of interest.
func wikiMacro(s string, i int) (string, int) {
	j := i + 1
	for j < len(s) && unicode.IsLetter(rune(s[j])) && s[j] < 0x80 {
		j++
	}
	name := strings.ToLower(s[i+1 : j])
	if !wikiBlocks[name] || j == len(s) {
		return "", 0
	}
	switch s[j] {
	case '}':
		return name, j + 1
	case ':':
		// Parameters end at the next brace; stopping at an opening one
		// keeps repeated "{code:" linear.
		if k := strings.IndexAny(s[j:], "{}"); k >= 0 && s[j+k] == '}' {
			return name, j + k + 1
		}
	}
	return "", 0
}

// asciiLower lowers ASCII letters only, so that byte offsets stay those
// of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func blank(b []byte) {
	for i := range b {
		b[i] = ' '
	}
}

// inlineCode returns the byte ranges of wiki {{monospace}} and Markdown
// `code` spans in s.
func inlineCode(s string) [][2]int {
	var out [][2]int
	// Once a closing mark is missing after some point it is missing after
	// every later one: stop looking, so that hostile text stays linear.
	braces, ticks := true, true
	for i := 0; i < len(s); {
		switch {
		case braces && strings.HasPrefix(s[i:], "{{"):
			j := strings.Index(s[i+2:], "}}")
			if j < 0 {
				braces = false
				i += 2
				continue
			}
			end := i + 2 + j + 2
			out = append(out, [2]int{i, end})
			i = end
		case ticks && s[i] == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				ticks = false
				i++
				continue
			}
			end := i + 1 + j + 1
			out = append(out, [2]int{i, end})
			i = end
		default:
			i++
		}
	}
	return out
}
