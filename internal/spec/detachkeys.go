package spec

import "strings"

// DefaultDetachKeys is Docker's detach sequence.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys reads a --detach-keys value, Docker's format: keys
// separated by commas, each a single character or ctrl-X with X one of
// a-z @ [ \ ] ^ _ (the ASCII control codes 0-31), or DEL. what names the
// value's origin in the error ("--detach-keys", or the config key).
func ParseDetachKeys(keys, what string) ([]byte, error) {
	if keys == "" {
		return nil, invalid("%s %q: empty; use keys such as %s", what, keys, DefaultDetachKeys)
	}
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case k == "DEL":
			out = append(out, 127)
		case len(k) == 6 && strings.HasPrefix(k, "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@' || (c >= '[' && c <= '_'):
				// ctrl-@ is 0, ctrl-[ 27, ctrl-\ 28, ctrl-] 29,
				// ctrl-^ 30, ctrl-_ 31: the character minus 64.
				out = append(out, c-64)
			default:
				return nil, invalid("%s %q: unknown key %q (use a character, ctrl-a to ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or DEL, separated by commas)", what, keys, k)
			}
		default:
			return nil, invalid("%s %q: unknown key %q (use a character, ctrl-a to ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or DEL, separated by commas)", what, keys, k)
		}
	}
	return out, nil
}
