package engine

import (
	"time"
	"unicode/utf8"
)

// logLineMax is the longest text of one log entry: longer lines are cut
// into entries that do not end with a newline (a "partial" entry), as
// Docker does at 16 KiB. Same constant as LINE_MAX_BYTES in
// internal/monitor/monitor_linux.c: the Go writer (foreground containers)
// and the C monitor (detached ones) must write the same bytes.
const logLineMax = 16384

// FormatLogEntry returns one entry of a log in the given driver's format:
//
//	json-file  {"log":"text\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
//	k8s-file   2024-05-01T10:00:00.123456789Z stdout F text
//
// text is a whole line with its newline, or a part of one (partial) without.
// Exported for the test that compares it with the C monitor's writer.
func FormatLogEntry(driver, stream string, text []byte, partial bool, t time.Time) []byte {
	return appendLogEntry(nil, driver, stream, text, partial, t)
}

func appendLogEntry(b []byte, driver, stream string, text []byte, partial bool, t time.Time) []byte {
	if driver == LogDriverK8s {
		b = appendLogTime(b, t, false)
		b = append(b, ' ')
		b = append(b, stream...)
		if partial {
			b = append(b, " P "...)
			b = append(b, text...)
		} else {
			b = append(b, " F "...)
			b = append(b, text[:len(text)-1]...)
		}
		return append(b, '\n')
	}
	b = append(b, `{"log":"`...)
	b = appendJSONEscaped(b, text)
	b = append(b, `","stream":"`...)
	b = append(b, stream...)
	b = append(b, `","time":"`...)
	b = appendLogTime(b, t, true)
	return append(b, "\"}\n"...)
}

// appendLogTime formats t in UTC as RFC 3339 with nanoseconds: nine digits,
// or with trailing zeros trimmed (Go's RFC3339Nano, Docker's json-file).
func appendLogTime(b []byte, t time.Time, trim bool) []byte {
	if trim {
		return t.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
}

// appendJSONEscaped escapes s as the inside of a JSON string the way Go's
// encoding/json does by default (and monitor_linux.c's json_escape):
// quote, backslash, \n \r \t, other control characters as \u00XX, < > &
// as \u003c \u003e \u0026, U+2028 and U+2029, and each byte of invalid
// UTF-8 as \ufffd.
func appendJSONEscaped(b []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\' && s[j] != '<' && s[j] != '>' && s[j] != '&' {
				j++
			}
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		if c < 0x80 {
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028':
			b = append(b, `\u2028`...)
		case r == '\u2029':
			b = append(b, `\u2029`...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
