//go:build linux && cgo

package monitor

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cove-run/cove/internal/engine"
)

// The C monitor (detached containers) and the Go writer (foreground ones)
// must write byte-identical log entries, so that one reader serves both.
func TestFormatMatchesGoWriter(t *testing.T) {
	times := []time.Time{
		time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC),
		time.Date(2024, 5, 1, 10, 0, 0, 120000000, time.UTC),
		time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 1, time.FixedZone("x", 3600)),
		time.Date(2000, 2, 29, 12, 0, 0, 10, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	// The C side computes calendar dates itself: every day of a few leap
	// and common years, at odd times.
	for d := time.Date(1999, 1, 1, 13, 7, 9, 500, time.UTC); d.Year() < 2005; d = d.Add(24*time.Hour + 17*time.Minute) {
		for _, drv := range []int{driverJSON, driverK8s} {
			name := map[int]string{driverJSON: engine.LogDriverJSON, driverK8s: engine.LogDriverK8s}[drv]
			c := formatEntry(drv, "stdout", []byte("x\n"), false, d)
			if g := engine.FormatLogEntry(name, "stdout", []byte("x\n"), false, d); !bytes.Equal(c, g) {
				t.Fatalf("%v:\n C: %q\nGo: %q", d, c, g)
			}
		}
	}
	texts := []string{
		"hello\n", "", "\n", "no newline", `quote " backslash \ slash /` + "\n",
		"tab\tcr\rbell\x07del\x7f nul\x00 esc\x1b\n",
		"<html> & </html>\n", "\u2028\u2029 line separators\n",
		"ünïcödé ✓ 𝄞 \ufffd\n",
		"bad \xff\xfe utf8 \xc3\x28 \xe2\x82 \xed\xa0\x80 surrogate \xf4\x90\x80\x80 too big \xc0\xaf overlong\n",
		"truncated at the end \xe2\x82",
		strings.Repeat("x", 16384),
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		b := make([]byte, rng.Intn(64))
		rng.Read(b)
		texts = append(texts, string(b)+"\n")
	}
	for _, drv := range []struct {
		name string
		c    int
	}{{engine.LogDriverJSON, driverJSON}, {engine.LogDriverK8s, driverK8s}} {
		for _, tm := range times {
			for _, text := range texts {
				for _, stream := range []string{"stdout", "stderr"} {
					partial := !strings.HasSuffix(text, "\n")
					if drv.name == engine.LogDriverK8s && strings.Contains(strings.TrimSuffix(text, "\n"), "\n") {
						continue // k8s-file lines never contain a newline
					}
					c := formatEntry(drv.c, stream, []byte(text), partial, tm)
					g := engine.FormatLogEntry(drv.name, stream, []byte(text), partial, tm)
					if !bytes.Equal(c, g) {
						t.Fatalf("%s %q:\n C: %q\nGo: %q", drv.name, text, c, g)
					}
				}
			}
		}
	}
}

// The json-file entries decode with encoding/json to the text, with invalid
// UTF-8 replaced, and escape like encoding/json.
func TestJSONEntryDecodes(t *testing.T) {
	tm := time.Date(2024, 5, 1, 10, 0, 0, 5000, time.UTC)
	for _, text := range []string{"a\"b\\c\n", "ctl \x01\x1f\n", "ok ✓\n", "bad \xff\n", "<&>\n"} {
		c := formatEntry(driverJSON, "stderr", []byte(text), false, tm)
		var e struct {
			Log    string    `json:"log"`
			Stream string    `json:"stream"`
			Time   time.Time `json:"time"`
		}
		if err := json.Unmarshal(c, &e); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		want := strings.ToValidUTF8(text, "\ufffd")
		if e.Log != want || e.Stream != "stderr" || !e.Time.Equal(tm) {
			t.Errorf("%q decoded to %+v", c, e)
		}
		// Same escaping as encoding/json's (apart from \b and \f, which
		// Go writes as \b and \f since 1.22 and we as \u0008, \u000c).
		if utf8.ValidString(text) {
			std, _ := json.Marshal(text)
			if !bytes.Contains(c, std[1:len(std)-1]) {
				t.Errorf("%q: escaping differs from encoding/json's %s", c, std)
			}
		}
	}
	if got := string(formatEntry(driverJSON, "stdout", []byte("x\n"), false, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))); got != `{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}`+"\n" {
		t.Errorf("whole-second time: %s", got)
	}
	if got := string(formatEntry(driverK8s, "stdout", []byte("x y\n"), false, time.Date(2024, 5, 1, 10, 0, 0, 1000, time.UTC))); got != "2024-05-01T10:00:00.000001000Z stdout F x y\n" {
		t.Errorf("k8s-file: %q", got)
	}
}
