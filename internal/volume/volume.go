// Package volume keeps cove's named and anonymous volumes on disk, without
// a daemon. Each volume is a directory under Root:
//
//	Root/NAME/volume.json   what the volume is (written once, at create)
//	Root/NAME/_data         its content, bind-mounted into containers
//	Root/.lock              flock held by create, remove and by callers
//	                        that must not race them (a container create
//	                        that records a use, an in-use check)
//
// A volume is built in a hidden temporary directory and renamed into place,
// so a reader or a crash sees a complete volume or none; rename also
// decides which of two concurrent creators wins a name. Removal renames
// the directory to a hidden name first, so a volume disappears in one step
// and a crash leaves only a hidden directory, which List clears.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cove-run/cove/internal/errdefs"
	pkgflock "github.com/cove-run/cove/pkg/flock"
)

// Volume is a volume's record, in the shape of `docker volume inspect`.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
	// Anonymous volumes were created for a container (-v /path, an image
	// VOLUME) under a generated name; `rm -v`, `--rm` and `volume prune`
	// remove them.
	Anonymous bool `json:"Anonymous,omitempty"`
}

// AnonymousLabel marks anonymous volumes, as Docker does.
const AnonymousLabel = "com.docker.volume.anonymous"

// Store is the on-disk volume database.
type Store struct {
	root string
}

// Open returns the store under root, creating it.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	return &Store{root: root}, nil
}

func (s *Store) dir(name string) string { return filepath.Join(s.root, name) }

// DataDir is where a volume's content lives on the host.
func (s *Store) DataDir(name string) string { return filepath.Join(s.dir(name), "_data") }

// checkName is the store's own guard against a name that would address
// anything but a direct child of Root; callers validate the full grammar
// (spec.ValidVolumeName) and name the input in their errors.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name[0] == '.' || len(name) > 255 {
		return errdefs.InvalidArgument("invalid volume name %q", name)
	}
	return nil
}

// Lock takes the store's lock; the kernel releases it if the process dies.
// Callers hold it around a create or removal that must be ordered against
// the in-use check (see the package comment).
func (s *Store) Lock() (func(), error) {
	return flock(filepath.Join(s.root, ".lock"))
}

func flock(path string) (func(), error) {
	return pkgflock.Exclusive(path)
}

// NewAnonymousName returns a fresh name for an anonymous volume: 64 hex
// digits, as Docker's.
func NewAnonymousName() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create makes a volume unless one of that name exists, and returns it;
// created says whether this call made it (an existing name is not an
// error, as in Docker). The caller holds the lock when it must order the
// create against removals; Create itself is safe without it.
func (s *Store) Create(v Volume) (vol *Volume, created bool, err error) {
	if err := checkName(v.Name); err != nil {
		return nil, false, err
	}
	if old, err := s.Get(v.Name); err == nil {
		return old, false, nil
	}
	v.Driver = "local"
	v.Scope = "local"
	v.Mountpoint = s.DataDir(v.Name)
	v.CreatedAt = time.Now().UTC().Truncate(time.Second)
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	tmp, err := os.MkdirTemp(s.root, ".new-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	// _data is 0755 like Docker's; the volume's own directory stays
	// private to the user, as the rest of cove's state does.
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, false, err
	}
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		return nil, false, err
	}
	data, err := json.Marshal(&v)
	if err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "volume.json"), data, 0o600); err != nil {
		return nil, false, err
	}
	// rename(2) of a directory onto an existing non-empty directory fails:
	// of two concurrent creators exactly one wins, and the other adopts
	// the winner's volume.
	if err := os.Rename(tmp, s.dir(v.Name)); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			old, gerr := s.Get(v.Name)
			return old, false, gerr
		}
		return nil, false, fmt.Errorf("creating volume %s: %w", v.Name, err)
	}
	return &v, true, nil
}

// Get reads a volume's record.
func (s *Store) Get(name string) (*Volume, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no such volume: %s: %w", name, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("volume %s: malformed record: %w", name, err)
	}
	// The record may have been written under another root (the store
	// moved with --root): the path is where it is now.
	v.Mountpoint = s.DataDir(name)
	return &v, nil
}

// List returns every volume, sorted by name. It clears what a killed
// create or remove left behind (hidden directories) when no create or
// remove is under way.
func (s *Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	var out []*Volume
	leftovers := false
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			leftovers = leftovers || e.Name() != ".lock"
			continue
		}
		v, err := s.Get(e.Name())
		if err != nil {
			continue // removed meanwhile, or being created by hand
		}
		out = append(out, v)
	}
	if leftovers {
		s.clearLeftovers()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// clearLeftovers removes hidden directories. Holding the lock excludes a
// create under the lock, but not a lock-free Create: a temporary directory
// is only removed when it is over a minute old.
func (s *Store) clearLeftovers() {
	unlock, err := s.Lock()
	if err != nil {
		return
	}
	defer unlock()
	ents, _ := os.ReadDir(s.root)
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || !strings.HasPrefix(n, ".") {
			continue
		}
		if strings.HasPrefix(n, ".new-") {
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < time.Minute {
				continue
			}
		}
		os.RemoveAll(filepath.Join(s.root, n))
	}
}

// Remove deletes a volume and its content. The caller holds the lock and
// has checked that no container uses it.
func (s *Store) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	// The random suffix keeps a leftover of a killed removal of the same
	// name from blocking this one.
	gone := filepath.Join(s.root, ".gone-"+NewAnonymousName()[:12])
	if err := os.Rename(s.dir(name), gone); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no such volume: %s: %w", name, errdefs.ErrNotFound)
		}
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	return nil
}

// Size is the space a volume's content takes, Docker's measure for the
// space its removal reclaims: the sizes of the entries under _data (not
// directories), a file with several links counted once. Links are not
// followed, so a type=bind volume's device is never counted.
func (s *Store) Size(name string) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	var total int64
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(s.DataDir(name), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			// A tree changing under the walk: count what is left.
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// IsEmpty reports whether the volume's content directory has no entries.
func (s *Store) IsEmpty(name string) (bool, error) {
	f, err := os.Open(s.DataDir(name))
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return false, nil
	}
	if err == io.EOF {
		return true, nil
	}
	return false, err
}
