// Package textcut cuts text to a number of bytes without splitting a
// character. Error messages, logs, notifications and tool outputs are all
// cut to a size, and a cut inside a UTF-8 sequence leaves text that is
// not UTF-8: JSON encoders replace the broken bytes, and editors show them
// as garbage.
package textcut

import "unicode/utf8"

// Len returns the length of the longest prefix of s that has at most n
// bytes and does not end inside a UTF-8 sequence.
func Len[T ~string | ~[]byte](s T, n int) int {
	if n >= len(s) {
		return len(s)
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// Prefix returns s cut to Len(s, n) bytes.
func Prefix(s string, n int) string { return s[:Len(s, n)] }

// Clip returns s cut to at most n bytes, and "…" after it if it was cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Prefix(s, n) + "…"
}
