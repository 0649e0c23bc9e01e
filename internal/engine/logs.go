package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
)

// LogsOptions are the options of `cove logs`.
type LogsOptions struct {
	// Follow keeps printing new output until the container stops and its
	// log is drained (or Until passes).
	Follow bool
	// Tail is the number of lines to print from the end; negative: all.
	Tail int
	// Since and Until bound the lines' times; zero: unbounded.
	Since, Until time.Time
	// Timestamps prefixes every line with its time (RFC 3339, nanoseconds).
	Timestamps bool
}

// followInterval is how often a follower looks for new output and for the
// container's end.
var followInterval = 100 * time.Millisecond

// ContainerLogs prints a container's log: its stdout lines to stdout and
// its stderr lines to stderr. It reads json-file and k8s-file logs, the
// rotated files included, whichever process wrote them (the C monitor of a
// detached container, or the foreground cove run).
func (e *Engine) ContainerLogs(ctx context.Context, ref string, o LogsOptions, stdout, stderr io.Writer) error {
	c, rec, err := e.lookupReconciled(ref)
	if err != nil {
		return err
	}
	// Opened (and cached) by the lookup.
	stores, _ := e.States()
	id := c.ID
	lc, err := logConfigOf(rec)
	if err != nil {
		return err
	}
	if lc.Driver == LogDriverNone {
		return &errdefs.ExitError{Code: errdefs.ExitCove, Err: fmt.Errorf("container %s: logs are not available with the none log driver", c.Name)}
	}
	r := &logReader{driver: lc.Driver, path: filepath.Join(stores.Dir(id), logFileName)}
	defer r.close()
	p := &logPrinter{o: o, stdout: stdout, stderr: stderr}

	// What is there: the rotated files, oldest first, then the log.
	var tail *lineRing
	if o.Tail >= 0 {
		tail = &lineRing{max: o.Tail}
	}
	var asm assembler
	keep := func(l logLine) {
		if !p.wanted(l) {
			return
		}
		if tail != nil {
			tail.add(l)
		} else {
			p.print(l)
		}
	}
	for _, f := range r.rotated() {
		r.readFile(f, func(en logEntry) { asm.add(en, keep) })
	}
	r.readNew(func(en logEntry) { asm.add(en, keep) })
	if !o.Follow {
		// A last line without a newline, of a stopped container or of a
		// running one that has not finished it: print it as it is.
		asm.flush(keep)
	}
	if tail != nil {
		tail.each(p.print)
	}
	if !o.Follow {
		return p.err
	}

	emit := func(l logLine) {
		if p.wanted(l) {
			p.print(l)
		}
	}
	for p.err == nil {
		if r.readNew(func(en logEntry) { asm.add(en, emit) }) > 0 {
			continue
		}
		if !o.Until.IsZero() && time.Now().After(o.Until) {
			break
		}
		c, err := e.reconciled(id)
		if err != nil {
			break // removed
		}
		// A monitor still alive has not finished the log yet, whatever
		// the state says (a command may have seen the process gone and
		// recorded the exit before the monitor did).
		if st := c.State.Status; st != state.Running && st != state.Paused && st != state.Restarting && !MonitorAlive(c.State.MonitorPid, id) {
			// The monitor finishes the log before the exit is recorded;
			// the foreground writer may flush a last partial line just
			// after: read once more after a moment.
			r.readNew(func(en logEntry) { asm.add(en, emit) })
			time.Sleep(50 * time.Millisecond)
			r.readNew(func(en logEntry) { asm.add(en, emit) })
			break
		}
		select {
		case <-ctx.Done():
			return p.err
		case <-time.After(followInterval):
		}
	}
	asm.flush(emit)
	return p.err
}

// logEntry is one entry of a log file.
type logEntry struct {
	stream  string
	text    []byte // without the newline of a full line
	partial bool
	t       time.Time
}

// logLine is one line of output, its parts put together.
type logLine struct {
	stream string
	text   []byte
	// complete is false for a last line without a newline.
	complete bool
	t        time.Time
}

// assembler joins partial entries (a line longer than 16 KiB, or an
// unfinished one) per stream.
type assembler struct {
	pending [2]*logLine // stdout, stderr
}

func streamIndex(s string) int {
	if s == "stderr" {
		return 1
	}
	return 0
}

func (a *assembler) add(en logEntry, out func(logLine)) {
	i := streamIndex(en.stream)
	p := a.pending[i]
	if p == nil {
		if !en.partial {
			out(logLine{stream: en.stream, text: en.text, complete: true, t: en.t})
			return
		}
		a.pending[i] = &logLine{stream: en.stream, text: append([]byte(nil), en.text...), t: en.t}
		return
	}
	p.text = append(p.text, en.text...)
	if !en.partial {
		p.complete = true
		out(*p)
		a.pending[i] = nil
	}
}

func (a *assembler) flush(out func(logLine)) {
	for i, p := range a.pending {
		if p != nil {
			out(*p)
			a.pending[i] = nil
		}
	}
}

// lineRing keeps the last max lines.
type lineRing struct {
	max   int
	lines []logLine
	next  int
}

func (r *lineRing) add(l logLine) {
	if r.max == 0 {
		return
	}
	l.text = append([]byte(nil), l.text...)
	if len(r.lines) < r.max {
		r.lines = append(r.lines, l)
		return
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % r.max
}

func (r *lineRing) each(f func(logLine)) {
	for i := range r.lines {
		f(r.lines[(r.next+i)%len(r.lines)])
	}
}

// logPrinter writes lines to the user's streams.
type logPrinter struct {
	o              LogsOptions
	stdout, stderr io.Writer
	buf            []byte
	err            error
}

func (p *logPrinter) wanted(l logLine) bool {
	if !p.o.Since.IsZero() && l.t.Before(p.o.Since) {
		return false
	}
	if !p.o.Until.IsZero() && l.t.After(p.o.Until) {
		return false
	}
	return true
}

func (p *logPrinter) print(l logLine) {
	if p.err != nil {
		return
	}
	b := p.buf[:0]
	if p.o.Timestamps {
		b = l.t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
		b = append(b, ' ')
	}
	b = append(b, l.text...)
	if l.complete {
		b = append(b, '\n')
	}
	w := p.stdout
	if l.stream == "stderr" {
		w = p.stderr
	}
	if _, err := w.Write(b); err != nil {
		p.err = err
	}
	p.buf = b
}

// logReader reads a container's log files.
type logReader struct {
	driver string
	path   string
	// The log file being followed: its inode (to notice a rotation), how
	// far it has been read, and an unfinished last line.
	cur    *os.File
	curFI  os.FileInfo
	offset int64
	rest   []byte
}

func (r *logReader) close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// rotated lists the rotated files, oldest first.
func (r *logReader) rotated() []string {
	var files []string
	for i := 1; ; i++ {
		p := r.path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		files = append([]string{p}, files...)
	}
	return files
}

func (r *logReader) readFile(path string, emit func(logEntry)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if en, ok := r.parse(sc.Bytes()); ok {
			emit(en)
		}
	}
}

// readNew reads what was appended to the log since the last call, across
// rotations, and returns the number of entries.
func (r *logReader) readNew(emit func(logEntry)) int {
	n := 0
	for attempt := 0; attempt < 4; attempt++ {
		if r.cur != nil {
			n += r.readCur(emit)
		}
		fi, err := os.Stat(r.path)
		if err != nil {
			return n // no log yet
		}
		switch {
		case r.cur == nil || !os.SameFile(fi, r.curFI):
			// A new file: the old one was renamed away, and has been
			// read to its end above.
			if r.cur != nil {
				r.cur.Close()
				r.cur = nil
			}
			f, err := os.Open(r.path)
			if err != nil {
				return n
			}
			if r.curFI, err = f.Stat(); err != nil {
				f.Close()
				return n
			}
			r.cur, r.offset, r.rest = f, 0, nil
		case fi.Size() < r.offset:
			// Emptied (rotation with max-file=1).
			r.offset, r.rest = 0, nil
		default:
			return n
		}
	}
	return n
}

func (r *logReader) readCur(emit func(logEntry)) int {
	n := 0
	buf := make([]byte, 64*1024)
	for {
		k, err := r.cur.ReadAt(buf, r.offset)
		if k > 0 {
			r.offset += int64(k)
			data := append(r.rest, buf[:k]...)
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				if en, ok := r.parse(data[:i]); ok {
					emit(en)
					n++
				}
				data = data[i+1:]
			}
			r.rest = append([]byte(nil), data...)
		}
		if err != nil || k == 0 {
			return n
		}
	}
}

// parse decodes one line of a log file; malformed lines are skipped.
func (r *logReader) parse(line []byte) (logEntry, bool) {
	if r.driver == LogDriverK8s {
		return parseK8sLine(line)
	}
	return parseJSONLine(line)
}

func parseJSONLine(line []byte) (logEntry, bool) {
	var j struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &j); err != nil {
		return logEntry{}, false
	}
	en := logEntry{stream: j.Stream, t: j.Time}
	if text, ok := strings.CutSuffix(j.Log, "\n"); ok {
		en.text = []byte(text)
	} else {
		en.text = []byte(j.Log)
		en.partial = true
	}
	return en, true
}

// parseK8sLine decodes "TIME STREAM TAG TEXT"; TAG is F (full line) or P
// (partial), possibly followed by more ':'-separated tags.
func parseK8sLine(line []byte) (logEntry, bool) {
	f := bytes.SplitN(line, []byte{' '}, 4)
	if len(f) < 3 {
		return logEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return logEntry{}, false
	}
	en := logEntry{stream: string(f[1]), t: t, partial: len(f[2]) > 0 && f[2][0] == 'P'}
	if len(f) == 4 {
		en.text = append([]byte(nil), f[3]...)
	}
	return en, true
}

// ParseLogTime parses a --since or --until value as Docker does: a
// duration before now (10m, 1h30m), a Unix time (1700000000,
// 1700000000.5), or an RFC 3339 date and time, or a prefix of one
// (2024-05-01, 2024-05-01T10:00), in local time when it has no zone.
func ParseLogTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	if sec, frac, _ := strings.Cut(s, "."); sec != "" && isDigits(sec) && (frac == "" || isDigits(frac)) {
		return parseUnixTime(s).Local(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidArgument("time %q: use a duration (10m), a Unix time (1700000000) or an RFC 3339 time (2024-05-01T10:00:00Z)", s)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
