package engine

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// LogWriter writes a foreground container's log, in the format and with
// the rotation the C monitor uses for detached containers, so that `logs`
// reads both alike. Its streams tee what they log to the user's terminal.
type LogWriter struct {
	mu   sync.Mutex
	cfg  LogConfig
	path string
	f    *os.File
	size int64 // of the file, pending bytes included
	// pending entries, written by flush: one write per Write of a
	// stream, however many lines it carried.
	pending []byte
}

// OpenLogWriter opens the log of the container ref (name or ID) for
// appending; nil (and no error) with the none driver.
func (e *Engine) OpenLogWriter(ref string) (*LogWriter, error) {
	stores, err := e.States()
	if err != nil {
		return nil, err
	}
	id, err := stores.Lookup(ref)
	if err != nil {
		return nil, err
	}
	c, err := stores.Get(id)
	if err != nil {
		return nil, err
	}
	rec, err := readRecord(c)
	if err != nil {
		return nil, err
	}
	lc, err := logConfigOf(rec)
	if err != nil {
		return nil, err
	}
	if lc.Driver == LogDriverNone {
		return nil, nil
	}
	return openLogWriter(filepath.Join(stores.Dir(id), logFileName), lc)
}

func openLogWriter(path string, cfg LogConfig) (*LogWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	w := &LogWriter{cfg: cfg, path: path, f: f}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	return w, nil
}

// entry adds one entry, rotating first when it would not fit (the rule
// of monitor_linux.c's log_entry). w.mu is held.
func (w *LogWriter) entry(stream string, text []byte, partial bool, t time.Time) {
	if w.f == nil {
		return
	}
	n := len(w.pending)
	w.pending = appendLogEntry(w.pending, w.cfg.Driver, stream, text, partial, t)
	size := int64(len(w.pending) - n)
	if w.cfg.MaxSize > 0 && w.size > 0 && w.size+size > w.cfg.MaxSize {
		entry := append([]byte(nil), w.pending[n:]...)
		w.pending = w.pending[:n]
		w.rotate()
		w.pending = append(w.pending, entry...)
	}
	w.size += size
	if len(w.pending) >= 64*1024 {
		w.flush()
	}
}

// flush writes the pending entries. w.mu is held.
func (w *LogWriter) flush() {
	if len(w.pending) > 0 && w.f != nil {
		w.f.Write(w.pending)
	}
	w.pending = w.pending[:0]
}

// rotate: see monitor_linux.c's rotate. w.mu is held.
func (w *LogWriter) rotate() {
	w.flush()
	if w.cfg.MaxFile <= 1 {
		if w.f.Truncate(0) == nil {
			w.size = 0
		}
		return
	}
	for i := w.cfg.MaxFile - 1; i >= 1; i-- {
		from := w.path
		if i > 1 {
			from = w.path + "." + strconv.Itoa(i-1)
		}
		os.Rename(from, w.path+"."+strconv.Itoa(i))
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return
	}
	w.f.Close()
	w.f = f
	w.size = 0
}

// Close closes the log; streams must have been flushed (their ReadFrom
// returned, or Flush called).
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	w.flush()
	err := w.f.Close()
	w.f = nil
	return err
}

// Stream returns a writer that logs what it gets as stream ("stdout" or
// "stderr") and copies it to tee (nil: nowhere). A failing tee (a closed
// pipe downstream) is dropped, not reported: the container's output keeps
// being logged and the container never blocks on it.
//
// It implements io.ReaderFrom, which io.Copy prefers: the runtime's copying
// goroutine then hands it the container's pipe, and the last unfinished
// line is logged when that pipe ends, before the runtime's Wait returns.
func (w *LogWriter) Stream(stream string, tee io.Writer) *LogStream {
	return &LogStream{w: w, name: stream, tee: tee, buf: make([]byte, 0, logLineMax)}
}

// LogStream is one stream of a LogWriter.
type LogStream struct {
	w    *LogWriter
	name string
	mu   sync.Mutex
	tee  io.Writer
	buf  []byte
}

// Write tees p and logs its complete lines.
func (s *LogStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tee != nil {
		if _, err := s.tee.Write(p); err != nil {
			s.tee = nil
		}
	}
	now := time.Now()
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	for q := p; len(q) > 0; {
		k := min(logLineMax-len(s.buf), len(q))
		s.buf = append(s.buf, q[:k]...)
		q = q[k:]
		s.takeLines(now)
	}
	s.w.flush()
	return len(p), nil
}

// takeLines logs the complete lines in buf, and buf itself as a partial
// entry when it is full (monitor_linux.c's take_lines). s.w.mu is held.
func (s *LogStream) takeLines(now time.Time) {
	start := 0
	for {
		i := bytes.IndexByte(s.buf[start:], '\n')
		if i < 0 {
			break
		}
		s.w.entry(s.name, s.buf[start:start+i+1], false, now)
		start += i + 1
	}
	if start > 0 {
		n := copy(s.buf, s.buf[start:])
		s.buf = s.buf[:n]
	}
	if len(s.buf) == logLineMax {
		s.w.entry(s.name, s.buf, true, now)
		s.buf = s.buf[:0]
	}
}

// Flush logs an unfinished last line.
func (s *LogStream) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		s.w.mu.Lock()
		s.w.entry(s.name, s.buf, true, time.Now())
		s.w.flush()
		s.w.mu.Unlock()
		s.buf = s.buf[:0]
	}
}

// ReadFrom copies r until it ends, then flushes. EIO, which a terminal's
// master side returns once the container's side is closed, is an end.
func (s *LogStream) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 32*1024)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.Write(buf[:n])
			total += int64(n)
		}
		if err != nil {
			s.Flush()
			if err == io.EOF || errors.Is(err, syscall.EIO) {
				return total, nil
			}
			return total, err
		}
	}
}
