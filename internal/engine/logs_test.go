package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseLogConfig(t *testing.T) {
	good := map[string]LogConfig{
		"":                                  {Driver: LogDriverJSON, MaxFile: 1},
		"json-file":                         {Driver: LogDriverJSON, MaxFile: 1},
		"k8s-file max-size=1k":              {Driver: LogDriverK8s, MaxSize: 1000, MaxFile: 1},
		"json-file max-size=10m max-file=3": {Driver: LogDriverJSON, MaxSize: 10_000_000, MaxFile: 3},
		"none":                              {Driver: LogDriverNone, MaxFile: 1},
	}
	for in, want := range good {
		f := strings.Fields(in)
		drv := ""
		if len(f) > 0 {
			drv = f[0]
			f = f[1:]
		}
		got, err := ParseLogConfig(drv, f)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"syslog", "json-file max-size=0", "json-file max-size=lots", "json-file max-file=0",
		"json-file max-file=3", "json-file compress=true", "none max-size=1k", "json-file max-size"} {
		f := strings.Fields(in)
		if _, err := ParseLogConfig(f[0], f[1:]); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseLogTime(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"10m":                          now.Add(-10 * time.Minute),
		"1h30m":                        now.Add(-90 * time.Minute),
		"1714557600":                   time.Unix(1714557600, 0),
		"1714557600.5":                 time.Unix(1714557600, 500000000),
		"2024-05-01T09:00:00Z":         time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC),
		"2024-05-01T09:00:00.25+02:00": time.Date(2024, 5, 1, 7, 0, 0, 250000000, time.UTC),
		"2024-05-01T09:00:00":          time.Date(2024, 5, 1, 9, 0, 0, 0, time.Local),
		"2024-05-01":                   time.Date(2024, 5, 1, 0, 0, 0, 0, time.Local),
	}
	for in, want := range cases {
		got, err := ParseLogTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "2024-13-01", "1.2.3"} {
		if _, err := ParseLogTime(in, now); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// readAll reads a log the way ContainerLogs does, without following.
func readAll(t *testing.T, driver, path string) []logLine {
	t.Helper()
	r := &logReader{driver: driver, path: path}
	defer r.close()
	var out []logLine
	var asm assembler
	keep := func(l logLine) { l.text = append([]byte(nil), l.text...); out = append(out, l) }
	for _, f := range r.rotated() {
		r.readFile(f, func(en logEntry) { asm.add(en, keep) })
	}
	r.readNew(func(en logEntry) { asm.add(en, keep) })
	asm.flush(keep)
	return out
}

func TestLogWriterRoundTrip(t *testing.T) {
	for _, drv := range []string{LogDriverJSON, LogDriverK8s} {
		t.Run(drv, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), logFileName)
			w, err := openLogWriter(path, LogConfig{Driver: drv, MaxFile: 1})
			if err != nil {
				t.Fatal(err)
			}
			out := w.Stream("stdout", nil)
			var tee bytes.Buffer
			errs := w.Stream("stderr", &tee)
			out.Write([]byte("one\ntw"))
			errs.Write([]byte("e1\n"))
			out.Write([]byte("o\n"))
			long := strings.Repeat("L", logLineMax+10)
			out.ReadFrom(strings.NewReader(long + "\n" + "last"))
			errs.Flush()
			w.Close()
			if tee.String() != "e1\n" {
				t.Errorf("tee got %q", tee.String())
			}
			got := readAll(t, drv, path)
			want := []logLine{
				{stream: "stdout", text: []byte("one"), complete: true},
				{stream: "stderr", text: []byte("e1"), complete: true},
				{stream: "stdout", text: []byte("two"), complete: true},
				{stream: "stdout", text: []byte(long), complete: true},
				{stream: "stdout", text: []byte("last")},
			}
			if len(got) != len(want) {
				t.Fatalf("got %d lines: %+v", len(got), got)
			}
			for i := range want {
				if got[i].stream != want[i].stream || !bytes.Equal(got[i].text, want[i].text) || got[i].complete != want[i].complete {
					t.Errorf("line %d: %s %q %v, want %s %q %v", i, got[i].stream, trunc(got[i].text), got[i].complete, want[i].stream, trunc(want[i].text), want[i].complete)
				}
			}
			// The long line was logged as a 16 KiB partial entry and the rest.
			b, _ := os.ReadFile(path)
			if n := bytes.Count(b, []byte("\n")); n != 6 {
				t.Errorf("%d entries on disk, want 6:\n%s", n, trunc(b))
			}
		})
	}
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logFileName)
	w, err := openLogWriter(path, LogConfig{Driver: LogDriverJSON, MaxSize: 1000, MaxFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := w.Stream("stdout", nil)
	// A follower opened before the rotations sees every line once.
	r := &logReader{driver: LogDriverJSON, path: path}
	defer r.close()
	var followed []string
	follow := func() {
		r.readNew(func(en logEntry) { followed = append(followed, string(en.text)) })
	}
	for i := 0; i < 200; i++ {
		fmt.Fprintf(s, "line %03d\n", i)
		if i%7 == 0 {
			follow()
		}
	}
	follow()
	w.Close()
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Errorf("files %v, want 3", files)
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > 1000 {
			t.Errorf("%s: %d bytes", f, fi.Size())
		}
	}
	got := readAll(t, LogDriverJSON, path)
	if last := string(got[len(got)-1].text); last != "line 199" {
		t.Errorf("last line %q", last)
	}
	for i := 1; i < len(got); i++ {
		if string(got[i].text) <= string(got[i-1].text) {
			t.Fatalf("out of order: %q after %q", got[i].text, got[i-1].text)
		}
	}
	if len(followed) != 200 || followed[199] != "line 199" {
		t.Errorf("follower saw %d lines, last %q", len(followed), followed[len(followed)-1])
	}

	// max-file=1: the log is emptied when full.
	path1 := filepath.Join(dir, "one.log")
	w1, _ := openLogWriter(path1, LogConfig{Driver: LogDriverK8s, MaxSize: 500, MaxFile: 1})
	s1 := w1.Stream("stderr", nil)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(s1, "line %03d\n", i)
	}
	w1.Close()
	if fi, _ := os.Stat(path1); fi.Size() > 500 {
		t.Errorf("max-file=1: %d bytes", fi.Size())
	}
	got = readAll(t, LogDriverK8s, path1)
	if len(got) == 0 || string(got[len(got)-1].text) != "line 099" || got[0].stream != "stderr" {
		t.Errorf("max-file=1: %+v", got)
	}
}

func TestParseLines(t *testing.T) {
	en, ok := parseJSONLine([]byte(`{"log":"a\u003cb\n","stream":"stderr","time":"2024-05-01T10:00:00.5Z"}`))
	if !ok || string(en.text) != "a<b" || en.partial || en.stream != "stderr" || en.t.Nanosecond() != 500000000 {
		t.Errorf("json: %+v %v", en, ok)
	}
	en, ok = parseK8sLine([]byte("2024-05-01T12:00:00.000000001+02:00 stdout P  two  spaces "))
	if !ok || string(en.text) != " two  spaces " || !en.partial || en.t.Hour() != 12 {
		t.Errorf("k8s: %+v %v", en, ok)
	}
	en, ok = parseK8sLine([]byte("2024-05-01T10:00:00Z stdout F "))
	if !ok || len(en.text) != 0 || en.partial {
		t.Errorf("k8s empty line: %+v %v", en, ok)
	}
	for _, bad := range []string{"", "garbage", "notatime stdout F x"} {
		if _, ok := parseK8sLine([]byte(bad)); ok {
			t.Errorf("k8s %q parsed", bad)
		}
		if _, ok := parseJSONLine([]byte(bad)); ok {
			t.Errorf("json %q parsed", bad)
		}
	}
}
