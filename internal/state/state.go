// Package state keeps cove's container records on disk so that every
// invocation (ps, inspect, stop, logs, ...) sees the same containers
// without a daemon. Each container is a directory under Root:
//
//	Root/containers/ID/config.json   what the container is (written once)
//	Root/containers/ID/state.json    what it is doing (rewritten atomically)
//	Root/containers/ID/lock          flock for read-modify-write of state
//	Root/names/NAME -> ../containers/ID   the name index (a symlink)
//
// Writes go to a temporary file that is fsynced and renamed over the old
// one, so a reader or a crash sees the old or the new record, never half
// of one. Names are claimed by creating their symlink under Root/names.lock
// (held for the few syscalls of a create, rename or delete): a process
// killed between claiming a name and writing the container leaves a
// dangling link, which the next claimant, holding the lock and so sure
// that nobody is mid-create, removes.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/pkg/atomicfile"
	"github.com/cove-run/cove/pkg/flock"
)

// Status is a container's lifecycle state, with Docker's names.
type Status string

// Lifecycle states.
const (
	Created    Status = "created"
	Running    Status = "running"
	Paused     Status = "paused"
	Restarting Status = "restarting"
	Exited     Status = "exited"
	Removing   Status = "removing"
	Dead       Status = "dead"
)

// transitions lists the allowed moves of the lifecycle state machine.
var transitions = map[Status][]Status{
	Created:    {Running, Exited, Removing, Dead},
	Running:    {Paused, Exited, Restarting, Removing, Dead},
	Paused:     {Running, Exited, Removing, Dead},
	Restarting: {Running, Exited, Removing, Dead},
	Exited:     {Running, Restarting, Removing, Dead, Created},
	Removing:   {Dead},
	Dead:       {Removing},
}

// CanTransition reports whether a container may move from one state to
// another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// State is the mutable part of a container record.
type State struct {
	Status Status `json:"Status"`
	Pid    int    `json:"Pid"`
	// PidStart is the process's start time in clock ticks since boot
	// (/proc/PID/stat field 22), so that a recycled PID after a crash or
	// a reboot is not mistaken for the container.
	PidStart uint64 `json:"PidStart,omitempty"`
	// BootID ties Pid to one boot of the machine.
	BootID     string `json:"BootID,omitempty"`
	MonitorPid int    `json:"MonitorPid,omitempty"`
	// MonitorStart is MonitorPid's start time (clock ticks since boot),
	// to recognise a live supervisor that is not a cove-monitor (the
	// foreground `cove run`, or `run -d` before its execve) rather than a
	// recycled PID.
	MonitorStart uint64    `json:"MonitorStart,omitempty"`
	ExitCode     int       `json:"ExitCode"`
	Error        string    `json:"Error"`
	OOMKilled    bool      `json:"OOMKilled"`
	StartedAt    time.Time `json:"StartedAt"`
	FinishedAt   time.Time `json:"FinishedAt"`
	RestartCount int       `json:"RestartCount"`
	// StoppedByUser records an explicit stop, which unless-stopped honours.
	StoppedByUser bool    `json:"StoppedByUser,omitempty"`
	Health        *Health `json:"Health,omitempty"`
	// Remover is the process that removes a --rm container once it has
	// exited: the `cove run` that created it until a supervisor (the
	// foreground run, or the launcher that becomes the monitor) takes
	// over, then that supervisor. Nil for `create --rm` until a start.
	// When it dies (kill -9), the next cove command removes the
	// container instead (engine.orphanedAutoRemove).
	Remover *Process `json:"Remover,omitempty"`
}

// Process names a process beyond the life of its PID: the start time (in
// clock ticks since boot, /proc/PID/stat field 22) tells a reused PID
// apart.
type Process struct {
	Pid   int    `json:"Pid"`
	Start uint64 `json:"Start"`
}

// Health is a container's healthcheck status in Docker's shape.
type Health struct {
	Status        string      `json:"Status"`
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthLog is one healthcheck run.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Container is a container's record: its immutable configuration (kept as
// raw JSON owned by the engine) plus its state.
type Container struct {
	ID      string          `json:"Id"`
	Name    string          `json:"Name"`
	Created time.Time       `json:"Created"`
	Config  json.RawMessage `json:"Config"`
	State   State           `json:"-"`
}

// Store is the on-disk container database.
type Store struct {
	root string
}

// Open returns the store under root, creating its directories.
func Open(root string) (*Store, error) {
	for _, d := range []string{"containers", "names"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	return &Store{root: root}, nil
}

func (s *Store) dir(id string) string { return filepath.Join(s.root, "containers", id) }

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidName reports whether name is a valid container name (Docker's rule).
func ValidName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 253 {
		return errdefs.InvalidArgument("container name %q: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*", name)
	}
	return nil
}

// Create records a new container and claims its name. It fails with
// ErrAlreadyExists if another container has the name.
func (s *Store) Create(c *Container) error {
	if err := ValidName(c.Name); err != nil {
		return err
	}
	unlock, err := s.lockNames()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.claimName(c.Name, c.ID); err != nil {
		return err
	}
	// Build the directory aside and rename it into place: a reader never
	// sees a container without its config.
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "containers"), ".new-")
	if err != nil {
		s.releaseName(c.Name, c.ID)
		return err
	}
	cleanup := func() { os.RemoveAll(tmp); s.releaseName(c.Name, c.ID) }
	if err := writeJSON(filepath.Join(tmp, "config.json"), c); err != nil {
		cleanup()
		return err
	}
	if err := writeJSON(filepath.Join(tmp, "state.json"), &c.State); err != nil {
		cleanup()
		return err
	}
	if err := os.Rename(tmp, s.dir(c.ID)); err != nil {
		cleanup()
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	return nil
}

// claimName creates the name link, clearing a dangling one left by a crash.
func (s *Store) claimName(name, id string) error {
	link := filepath.Join(s.root, "names", name)
	target := filepath.Join("..", "containers", id)
	for attempt := 0; attempt < 2; attempt++ {
		err := os.Symlink(target, link)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return err
		}
		old, rerr := os.Readlink(link)
		if rerr != nil {
			continue
		}
		oldID := filepath.Base(old)
		if _, serr := os.Stat(filepath.Join(s.dir(oldID), "config.json")); serr == nil {
			return fmt.Errorf("the container name %q is already in use by container %s; remove or rename that container, or choose another name: %w", name, oldID, errdefs.ErrAlreadyExists)
		}
		// Dangling: a creator died before its container existed, or a
		// removal died half-way. Remove only that exact link.
		if cur, _ := os.Readlink(link); cur == old {
			os.Remove(link)
		}
	}
	return fmt.Errorf("claiming the container name %q: %w", name, errdefs.ErrAlreadyExists)
}

func (s *Store) releaseName(name, id string) {
	link := filepath.Join(s.root, "names", name)
	if cur, err := os.Readlink(link); err == nil && filepath.Base(cur) == id {
		os.Remove(link)
	}
}

// Rename changes a container's name.
func (s *Store) Rename(id, newName string) error {
	if err := ValidName(newName); err != nil {
		return err
	}
	unlock, err := s.lockNames()
	if err != nil {
		return err
	}
	defer unlock()
	return s.Update(id, func(c *Container) error {
		if err := s.claimName(newName, id); err != nil {
			return err
		}
		old := c.Name
		c.Name = newName
		if err := writeJSON(filepath.Join(s.dir(id), "config.json"), c); err != nil {
			s.releaseName(newName, id)
			return err
		}
		s.releaseName(old, id)
		return nil
	})
}

// Get reads a container by full ID.
func (s *Store) Get(id string) (*Container, error) {
	var c Container
	if err := readJSON(filepath.Join(s.dir(id), "config.json"), &c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	if err := readJSON(filepath.Join(s.dir(id), "state.json"), &c.State); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Delete renamed the directory between the two reads: the
			// container is gone, not one without a state.
			if _, serr := os.Stat(s.dir(id)); errors.Is(serr, os.ErrNotExist) {
				return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
			}
			return &c, nil
		}
		// A record torn by a power loss (see writeJSON): the container is
		// certainly not running any more.
		c.State = State{Status: Exited, ExitCode: 128, Error: "state lost (the machine stopped while it was written): " + err.Error()}
	}
	return &c, nil
}

// Lookup resolves a name, full ID or unique ID prefix to a full ID.
func (s *Store) Lookup(ref string) (string, error) {
	if ref == "" {
		return "", errdefs.InvalidArgument("empty container name or ID")
	}
	ref = strings.TrimPrefix(ref, "/")
	if nameRE.MatchString(ref) {
		if t, err := os.Readlink(filepath.Join(s.root, "names", ref)); err == nil {
			id := filepath.Base(t)
			if _, err := os.Stat(filepath.Join(s.dir(id), "config.json")); err == nil {
				return id, nil
			}
		}
	}
	ids, err := s.IDs()
	if err != nil {
		return "", err
	}
	var match string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if strings.HasPrefix(id, ref) {
			if match != "" {
				return "", fmt.Errorf("container ID prefix %q is ambiguous: %w", ref, errdefs.ErrInvalidArgument)
			}
			match = id
		}
	}
	if match == "" {
		return "", fmt.Errorf("no such container: %s: %w", ref, errdefs.ErrNotFound)
	}
	return match, nil
}

// IDs lists the IDs of all containers.
func (s *Store) IDs() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "containers"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// List reads every container; records that vanish meanwhile (a concurrent
// rm) are skipped.
func (s *Store) List() ([]*Container, error) {
	ids, err := s.IDs()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(ids))
	for _, id := range ids {
		c, err := s.Get(id)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Store) lockNames() (func(), error) {
	return flock.Exclusive(filepath.Join(s.root, "names.lock"))
}

// Lock takes the container's lock; the returned function releases it. The
// kernel releases it if the process dies.
func (s *Store) Lock(id string) (func(), error) {
	if _, err := os.Stat(s.dir(id)); err != nil {
		return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
	}
	unlock, err := flock.Exclusive(filepath.Join(s.dir(id), "lock"))
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
	}
	return unlock, err
}

// Update locks the container, reads it, applies fn and writes the state
// (and nothing else) back.
func (s *Store) Update(id string, fn func(*Container) error) error {
	unlock, err := s.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.Get(id)
	if err != nil {
		return err
	}
	before, err := json.Marshal(&c.State)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		return err
	}
	after, err := json.Marshal(&c.State)
	if err != nil {
		return err
	}
	// A change that changes nothing (a monitor recorded twice, a state
	// already reconciled) is not written: every write is a file
	// replacement, and they add up on a container's start and exit.
	if bytes.Equal(before, after) {
		return nil
	}
	return writeRecord(filepath.Join(s.dir(id), "state.json"), after)
}

// SetState moves a container to a new state, enforcing the state machine.
func (s *Store) SetState(id string, fn func(st *State) error) error {
	return s.Update(id, func(c *Container) error {
		old := c.State.Status
		if err := fn(&c.State); err != nil {
			return err
		}
		if c.State.Status != old && !CanTransition(old, c.State.Status) {
			return fmt.Errorf("container %s: cannot go from %s to %s: %w", id, old, c.State.Status, errdefs.ErrInvalidState)
		}
		return nil
	})
}

// Delete removes a container's record and releases its name.
func (s *Store) Delete(id string) error {
	c, err := s.Get(id)
	if err != nil {
		return err
	}
	unlock, err := s.lockNames()
	if err != nil {
		return err
	}
	defer unlock()
	// Rename first: the record disappears for readers in one step, then
	// the files go. A crash after the rename leaves only a hidden dir.
	gone := filepath.Join(s.root, "containers", ".gone-"+id)
	if err := os.Rename(s.dir(id), gone); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Another remover renamed it first.
			return fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
		}
		return err
	}
	s.releaseName(c.Name, id)
	return os.RemoveAll(gone)
}

// RemoveLeftovers removes what killed processes left in the containers
// directory: records whose removal was killed after the rename (Delete's
// ".gone-ID", with whatever the engine kept there, a container's layer
// included) and records a killed Create never renamed into place (".new-"
// directories over a minute old; a younger one may be a create under
// way). Two processes removing the same leftover at once both succeed.
func (s *Store) RemoveLeftovers() {
	dir := filepath.Join(s.root, "containers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		switch name := e.Name(); {
		case strings.HasPrefix(name, ".gone-"):
			os.RemoveAll(filepath.Join(dir, name))
		case strings.HasPrefix(name, ".new-"):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.RemoveAll(filepath.Join(dir, name))
			}
		}
	}
}

// Dir is the container's directory, for files the engine keeps there
// (logs, hosts, resolv.conf).
func (s *Store) Dir(id string) string { return s.dir(id) }

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeRecord(path, data)
}

func writeRecord(path string, data []byte) error {
	// No fsync: the replacement is atomic for every other process, which
	// is what kill -9 of any cove process needs; an fsync per state change
	// would cost milliseconds on every run. After a power loss a record may
	// be empty: Get then reports the container as exited with a lost state
	// rather than failing.
	return atomicfile.Write(path, data, 0o600)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
