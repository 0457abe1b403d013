package chat

import "strings"

// lstripBlocks applies Jinja's lstrip_blocks to template source: spaces and
// tabs from the start of a line up to a block tag or comment ("{%", "{#")
// are removed, unless the tag opens with "+" ("{%+").
//
// gonja's own LeftStripBlocks also strips whitespace between an earlier tag
// on the same line and a block ("{{ x }} {% if y %}" loses its space), which
// Jinja does not do, so Compile does this pass itself and turns gonja's off.
// Like @huggingface/jinja's equivalent pass it works on the source text, so
// it would also strip such lines inside {% raw %} blocks, which chat
// templates do not use.
func lstripBlocks(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	lineStart := true
	for i := 0; i < len(s); {
		if lineStart {
			lineStart = false
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j > i && j+1 < len(s) && s[j] == '{' && (s[j+1] == '%' || s[j+1] == '#') &&
				(j+2 >= len(s) || s[j+2] != '+') {
				i = j // drop the indentation
			}
			continue
		}
		b.WriteByte(s[i])
		lineStart = s[i] == '\n'
		i++
	}
	return b.String()
}
