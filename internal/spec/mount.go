package spec

import (
	"encoding/csv"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// MountType is the kind of a user mount.
type MountType string

// Mount types of -v, --mount and --tmpfs.
const (
	// MountBind mounts a host path (Source, absolute and clean).
	MountBind MountType = "bind"
	// MountVolume mounts a named volume (Source is its name) or, with an
	// empty Source, a new anonymous volume.
	MountVolume MountType = "volume"
	// MountTmpfs mounts a fresh tmpfs; Source is empty.
	MountTmpfs MountType = "tmpfs"
)

// Mount is one user mount from -v/--volume, --mount or --tmpfs, validated.
// Generate turns it into an OCI mount; the fields that need work on the host
// before the container starts (CreateSource, Chown, NoCopy, resolving
// volumes) are the engine's.
type Mount struct {
	Type MountType `json:"Type"`
	// Source is the absolute, clean host path of a bind, the name of a
	// named volume, or empty (anonymous volume, tmpfs).
	Source string `json:"Source,omitempty"`
	// Destination is absolute and clean, is not "/" and had no ".."
	// component.
	Destination string `json:"Destination"`
	ReadOnly    bool   `json:"ReadOnly,omitempty"`
	// Propagation is "", shared, slave, private, rshared, rslave or
	// rprivate (binds only; "" means rprivate).
	Propagation string `json:"Propagation,omitempty"`
	// Relabel is "", "z" or "Z" (SELinux relabeling; cove does not
	// relabel, as Docker on a host without SELinux).
	Relabel string `json:"Relabel,omitempty"`
	// Chown (":U") asks the engine to chown the source to the container's
	// user and group before the container starts.
	Chown bool `json:"Chown,omitempty"`
	// Overlay (":O") asks for a throw-away overlay on top of the source.
	// Generate refuses it: the built-in runtime does not implement it.
	Overlay bool `json:"Overlay,omitempty"`
	// NoCopy (volumes only) tells the engine not to copy the image's
	// content at Destination into a new, empty volume.
	NoCopy bool `json:"NoCopy,omitempty"`
	// VolumeOptions (volumes only, --mount volume-opt=KEY=VALUE, in the
	// order given) are the local driver's options for a volume this
	// mount creates, as `volume create --opt`; the engine validates them
	// and, as Docker does, ignores them for a volume that exists.
	VolumeOptions []string `json:"VolumeOptions,omitempty"`
	// CreateSource is set for -v binds: like Docker, a missing host
	// directory is created; --mount binds fail instead.
	CreateSource bool `json:"CreateSource,omitempty"`
	// TmpfsSize is the tmpfs size in bytes; 0 leaves the kernel's default
	// (half of RAM).
	TmpfsSize int64 `json:"TmpfsSize,omitempty"`
	// TmpfsMode holds the permission bits of the tmpfs root (at most
	// 07777); 0 leaves the kernel's default (1777), as Docker does.
	TmpfsMode uint32 `json:"TmpfsMode,omitempty"`
	// TmpfsPlain drops Docker's noexec,nosuid,nodev defaults for user
	// tmpfs mounts: a tmpfs volume gets only the options it was created
	// with, as with Docker's local driver.
	TmpfsPlain bool `json:"TmpfsPlain,omitempty"`
	// TmpfsOptions are further validated tmpfs mount options from --tmpfs
	// (exec, nr_inodes=..., size=N%, ...), in the order given.
	TmpfsOptions []string `json:"TmpfsOptions,omitempty"`
}

var propagationModes = map[string]bool{
	"shared": true, "slave": true, "private": true,
	"rshared": true, "rslave": true, "rprivate": true,
}

// Validate checks the invariants every parsed Mount satisfies. The engine
// can use it on mounts read back from a container's stored config.
func (m *Mount) Validate() error {
	d, err := cleanDestination(m.Destination)
	if err != nil {
		return err
	}
	if d != m.Destination {
		return fmt.Errorf("destination %q is not clean", m.Destination)
	}
	switch m.Type {
	case MountBind:
		if !path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source {
			return fmt.Errorf("bind source %q is not an absolute, clean path", m.Source)
		}
		if m.NoCopy {
			return errors.New("nocopy applies to volumes only")
		}
	case MountVolume:
		if m.Source != "" && !ValidVolumeName(m.Source) {
			return fmt.Errorf("invalid volume name %q", m.Source)
		}
		if m.Propagation != "" || m.CreateSource {
			return errors.New("propagation and CreateSource apply to binds only")
		}
	case MountTmpfs:
		if m.Source != "" || m.Propagation != "" || m.NoCopy || m.Relabel != "" || m.Chown || m.Overlay || m.CreateSource {
			return errors.New("tmpfs takes no source, propagation or volume options")
		}
		if m.TmpfsSize < 0 || m.TmpfsMode > 0o7777 {
			return errors.New("bad tmpfs size or mode")
		}
	default:
		return fmt.Errorf("unknown mount type %q", m.Type)
	}
	if m.Type != MountVolume && len(m.VolumeOptions) > 0 {
		return errors.New("volume options on a non-volume mount")
	}
	if m.Type != MountTmpfs && (m.TmpfsSize != 0 || m.TmpfsMode != 0 || len(m.TmpfsOptions) > 0) {
		return errors.New("tmpfs options on a non-tmpfs mount")
	}
	if m.Propagation != "" && !propagationModes[m.Propagation] {
		return fmt.Errorf("unknown propagation %q", m.Propagation)
	}
	if m.Relabel != "" && m.Relabel != "z" && m.Relabel != "Z" {
		return fmt.Errorf("unknown relabel %q", m.Relabel)
	}
	return nil
}

// ValidVolumeName reports whether name is a valid named-volume name:
// [a-zA-Z0-9][a-zA-Z0-9_.-]+, as Docker's local driver.
func ValidVolumeName(name string) bool {
	return VolumeNameProblem(name) == ""
}

// VolumeNameProblem says what is wrong with a volume name, "" if nothing:
// Docker's local driver takes [a-zA-Z0-9][a-zA-Z0-9_.-] and at least two
// characters.
func VolumeNameProblem(name string) string {
	const chars = "includes invalid characters for a volume name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
	if name == "" || !isAlnum(name[0]) {
		return chars
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return chars
		}
	}
	if len(name) < 2 {
		return "is too short for a volume name, which needs at least two characters"
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// cleanDestination validates a path inside the container and returns it
// cleaned: it must be absolute, have no ".." component, and not be "/".
func cleanDestination(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty destination")
	case strings.IndexByte(p, 0) >= 0:
		return "", fmt.Errorf("destination %q contains a NUL byte", p)
	case p[0] != '/':
		return "", fmt.Errorf("destination %q is not an absolute path", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", fmt.Errorf("destination %q has a \"..\" component", p)
		}
	}
	p = path.Clean(p)
	if p == "/" {
		return "", errors.New("destination can't be \"/\"")
	}
	return p, nil
}

// hostSource classifies the host part of -v or the source of --mount: an
// absolute path, or a relative one starting with "." (made absolute against
// the working directory, as the docker CLI does), is a bind; anything else
// must be a volume name.
func hostSource(src string) (isPath bool, clean string, err error) {
	if strings.IndexByte(src, 0) >= 0 {
		return false, "", fmt.Errorf("source %q contains a NUL byte", src)
	}
	if strings.HasPrefix(src, "/") {
		return true, path.Clean(src), nil
	}
	if src == "." || src == ".." || strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return false, "", fmt.Errorf("source %q: %w", src, err)
		}
		return true, abs, nil
	}
	if p := VolumeNameProblem(src); p != "" {
		return false, "", fmt.Errorf("%q %s; use an absolute path for a host directory", src, p)
	}
	return false, src, nil
}

// ParseVolume parses a -v/--volume value with Docker's Linux syntax:
//
//	CTR                anonymous volume at CTR
//	HOST:CTR[:OPTS]    bind mount (HOST absolute, or relative starting with ".")
//	NAME:CTR[:OPTS]    named volume
//
// OPTS is a comma list of ro|rw, z|Z, U, O, one propagation mode (binds
// only), nocopy (volumes only) and the accepted no-op consistency modes
// consistent, cached and delegated. Empty parts, unknown, duplicate and
// conflicting options, a relative CTR, a ".." component in CTR and CTR "/"
// are errors. Binds get CreateSource, as Docker creates a missing host
// directory for -v.
func ParseVolume(spec string) (Mount, error) {
	m, err := parseVolume(spec)
	if err != nil {
		return Mount{}, invalid("volume %q: %v", spec, err)
	}
	return m, nil
}

func parseVolume(spec string) (Mount, error) {
	if spec == "" {
		return Mount{}, errors.New("empty volume specification")
	}
	parts := strings.Split(spec, ":")
	var src, dst, opts string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
		if opts == "" {
			return Mount{}, errors.New("empty options after the last ':'")
		}
	default:
		return Mount{}, errors.New("too many ':' (expected [HOST:]CONTAINER[:OPTIONS])")
	}
	if len(parts) > 1 && src == "" {
		return Mount{}, errors.New("empty host path or volume name before ':'")
	}
	if dst == "" {
		return Mount{}, errors.New("empty container path")
	}
	d, err := cleanDestination(dst)
	if err != nil {
		return Mount{}, err
	}
	m := Mount{Type: MountVolume, Destination: d}
	if src != "" {
		isPath, clean, err := hostSource(src)
		if err != nil {
			return Mount{}, err
		}
		m.Source = clean
		if isPath {
			m.Type = MountBind
			m.CreateSource = true
		}
	}
	if opts == "" {
		return m, nil
	}
	seen := map[string]string{} // option class -> option
	for _, o := range strings.Split(opts, ",") {
		class := ""
		switch {
		case o == "":
			return Mount{}, fmt.Errorf("empty option in %q", opts)
		case o == "ro" || o == "rw":
			class = "access"
			m.ReadOnly = o == "ro"
		case o == "z" || o == "Z":
			class = "relabel"
			m.Relabel = o
		case o == "U":
			class = o
			m.Chown = true
		case o == "O":
			class = o
			m.Overlay = true
		case propagationModes[o]:
			if m.Type != MountBind {
				return Mount{}, fmt.Errorf("propagation %q applies to bind mounts only", o)
			}
			class = "propagation"
			m.Propagation = o
		case o == "nocopy":
			if m.Type != MountVolume {
				return Mount{}, errors.New("nocopy applies to volumes only")
			}
			class = o
			m.NoCopy = true
		case o == "consistent" || o == "cached" || o == "delegated":
			class = "consistency" // macOS-only in Docker; accepted and ignored
		default:
			return Mount{}, fmt.Errorf("unknown option %q", o)
		}
		if prev, ok := seen[class]; ok {
			if prev == o {
				return Mount{}, fmt.Errorf("duplicate option %q", o)
			}
			return Mount{}, fmt.Errorf("conflicting options %q and %q", prev, o)
		}
		seen[class] = o
	}
	return m, nil
}

// ParseMount parses a --mount value: comma-separated key=value fields in
// CSV syntax (a field may be quoted to hold a comma), as Docker. Keys are
// case-insensitive:
//
//	type=bind|volume|tmpfs (default volume)
//	source, src
//	target, destination, dst (required)
//	readonly, ro [=true|false|1|0]
//	bind-propagation=shared|slave|private|rshared|rslave|rprivate
//	volume-nocopy [=true|false|1|0], volume-driver=local
//	tmpfs-size=SIZE (64m, 1g, bytes), tmpfs-mode=OCTAL
//	consistency=default|consistent|cached|delegated (ignored)
//
// Unknown keys, repeated keys and keys of another type (bind-* with
// type=volume, ...) are errors. A bind needs a source that is an absolute
// path (or relative starting with "."); a volume source must be a valid
// name, and may be omitted for an anonymous volume; tmpfs takes no source.
func ParseMount(spec string) (Mount, error) {
	m, err := parseMount(spec)
	if err != nil {
		return Mount{}, invalid("mount %q: %v", spec, err)
	}
	return m, nil
}

func parseMount(spec string) (Mount, error) {
	if strings.ContainsAny(spec, "\n\r\x00") {
		return Mount{}, errors.New("contains a newline or NUL byte")
	}
	if spec == "" {
		return Mount{}, errors.New("empty mount specification")
	}
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return Mount{}, fmt.Errorf("bad CSV syntax: %v", err)
	}
	m := Mount{Type: MountVolume}
	var (
		typ, src, dst string
		haveSrc       bool
		seen          = map[string]string{}
		byType        = map[MountType]string{} // first type-specific key per type
	)
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		canon := key
		switch key {
		case "src":
			canon = "source"
		case "destination", "dst":
			canon = "target"
		case "ro":
			canon = "readonly"
		}
		if key == "" {
			return Mount{}, fmt.Errorf("empty field %q", f)
		}
		// volume-opt is the one key that may repeat (one option each).
		if prev, ok := seen[canon]; ok && canon != "volume-opt" {
			return Mount{}, fmt.Errorf("%q given twice (%q and %q)", canon, prev, f)
		}
		seen[canon] = f
		needVal := func() error {
			if !hasVal || val == "" {
				return fmt.Errorf("%q needs a value", key)
			}
			return nil
		}
		switch canon {
		case "type":
			if err := needVal(); err != nil {
				return Mount{}, err
			}
			typ = val
		case "source":
			if !hasVal {
				return Mount{}, fmt.Errorf("%q needs a value", key)
			}
			src, haveSrc = val, true
		case "target":
			if err := needVal(); err != nil {
				return Mount{}, err
			}
			dst = val
		case "readonly":
			b, err := parseBoolOpt(key, val, hasVal)
			if err != nil {
				return Mount{}, err
			}
			m.ReadOnly = b
		case "consistency":
			switch val {
			case "default", "consistent", "cached", "delegated":
			default:
				return Mount{}, fmt.Errorf("unknown consistency %q", val)
			}
		case "bind-propagation":
			if !propagationModes[val] {
				return Mount{}, fmt.Errorf("unknown bind-propagation %q (use shared, slave, private, rshared, rslave or rprivate)", val)
			}
			m.Propagation = val
			noteType(byType, MountBind, key)
		case "volume-nocopy":
			b, err := parseBoolOpt(key, val, hasVal)
			if err != nil {
				return Mount{}, err
			}
			m.NoCopy = b
			noteType(byType, MountVolume, key)
		case "volume-opt":
			// Docker's form: volume-opt=KEY=VALUE, the value quoted in
			// the CSV if it has commas ("volume-opt=o=size=1m,uid=1").
			if err := needVal(); err != nil {
				return Mount{}, err
			}
			if k, v, ok := strings.Cut(val, "="); !ok || k == "" || v == "" {
				return Mount{}, fmt.Errorf("volume-opt %q: expected KEY=VALUE", val)
			}
			m.VolumeOptions = append(m.VolumeOptions, val)
			noteType(byType, MountVolume, key)
		case "volume-driver":
			if val != "local" {
				return Mount{}, fmt.Errorf("volume driver %q is not supported (only \"local\")", val)
			}
			noteType(byType, MountVolume, key)
		case "tmpfs-size":
			n, err := parseBytes(val)
			if err != nil {
				return Mount{}, fmt.Errorf("tmpfs-size %q: %v", val, err)
			}
			m.TmpfsSize = n
			noteType(byType, MountTmpfs, key)
		case "tmpfs-mode":
			mode, err := parseMode(val)
			if err != nil {
				return Mount{}, fmt.Errorf("tmpfs-mode %q: %v", val, err)
			}
			m.TmpfsMode = mode
			noteType(byType, MountTmpfs, key)
		default:
			return Mount{}, fmt.Errorf("unknown key %q", key)
		}
	}
	if typ != "" {
		switch MountType(typ) {
		case MountBind, MountVolume, MountTmpfs:
			m.Type = MountType(typ)
		default:
			return Mount{}, fmt.Errorf("unsupported type %q (use bind, volume or tmpfs)", typ)
		}
	}
	for t, key := range byType {
		if t != m.Type {
			return Mount{}, fmt.Errorf("option %q does not apply to type %s", key, m.Type)
		}
	}
	if dst == "" {
		return Mount{}, errors.New("target is required")
	}
	if m.Destination, err = cleanDestination(dst); err != nil {
		return Mount{}, err
	}
	switch m.Type {
	case MountBind:
		if src == "" {
			return Mount{}, errors.New("source is required for a bind mount")
		}
		isPath, clean, err := hostSource(src)
		if err != nil {
			return Mount{}, err
		}
		if !isPath {
			return Mount{}, fmt.Errorf("bind source %q is not an absolute path", src)
		}
		m.Source = clean
	case MountVolume:
		if src != "" {
			if p := VolumeNameProblem(src); p != "" {
				return Mount{}, fmt.Errorf("%q %s", src, p)
			}
			m.Source = src
		}
	case MountTmpfs:
		if haveSrc {
			return Mount{}, errors.New("source is not supported for tmpfs mounts")
		}
	}
	return m, nil
}

func noteType(byType map[MountType]string, t MountType, key string) {
	if _, ok := byType[t]; !ok {
		byType[t] = key
	}
}

// parseBoolOpt reads a flag-like option: bare means true.
func parseBoolOpt(key, val string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	switch strings.ToLower(val) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: expected true, false, 1 or 0", key, val)
}

// parseMode parses an octal permission mode of at most 07777.
func parseMode(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty mode")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '7' {
			return 0, errors.New("expected an octal mode such as 1777")
		}
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, errors.New("mode is larger than 7777")
	}
	return uint32(n), nil
}

// tmpfs flag options, each with the option that contradicts it.
var tmpfsFlags = map[string]string{
	"ro": "rw", "rw": "ro",
	"exec": "noexec", "noexec": "exec",
	"suid": "nosuid", "nosuid": "suid",
	"dev": "nodev", "nodev": "dev",
	"sync": "async", "async": "sync",
	"atime": "noatime", "noatime": "atime",
	"diratime": "nodiratime", "nodiratime": "diratime",
	"relatime": "norelatime", "norelatime": "relatime",
	"strictatime": "nostrictatime", "nostrictatime": "strictatime",
	"lazytime": "nolazytime", "nolazytime": "lazytime",
	"mand": "nomand", "nomand": "mand",
	"dirsync":  "",
	"inode32":  "inode64",
	"inode64":  "inode32",
	"noswap":   "",
	"tmpfs":    "", // harmless: some users write the type as an option
	"rprivate": "",
}

// ParseTmpfs parses a --tmpfs value, PATH[:OPTIONS], where OPTIONS is a
// comma list of tmpfs mount options: the flags ro, rw, exec, noexec, suid,
// nosuid, dev, nodev, (no)atime, ... and size=SIZE (64m, bytes, or N%),
// mode=OCTAL, nr_inodes=N[k|m|g|%], nr_blocks=..., uid=N, gid=N,
// huge=never|always|within_size|advise|deny|force. Duplicate and
// contradictory options (exec with noexec) are errors. Generate adds
// Docker's defaults noexec, nosuid and nodev unless overridden.
func ParseTmpfs(spec string) (Mount, error) {
	m, err := parseTmpfs(spec)
	if err != nil {
		return Mount{}, invalid("tmpfs %q: %v", spec, err)
	}
	return m, nil
}

func parseTmpfs(spec string) (Mount, error) {
	dst, opts, hasOpts := strings.Cut(spec, ":")
	d, err := cleanDestination(dst)
	if err != nil {
		return Mount{}, err
	}
	m := Mount{Type: MountTmpfs, Destination: d}
	if !hasOpts {
		return m, nil
	}
	if opts == "" {
		return Mount{}, errors.New("empty options after ':'")
	}
	seen := map[string]bool{}
	for _, o := range strings.Split(opts, ",") {
		key, val, isData := strings.Cut(o, "=")
		if o == "" {
			return Mount{}, fmt.Errorf("empty option in %q", opts)
		}
		if seen[key] {
			return Mount{}, fmt.Errorf("duplicate option %q", key)
		}
		seen[key] = true
		if !isData {
			other, ok := tmpfsFlags[o]
			if !ok {
				return Mount{}, fmt.Errorf("unknown option %q", o)
			}
			if other != "" && seen[other] {
				return Mount{}, fmt.Errorf("conflicting options %q and %q", other, o)
			}
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw", "tmpfs", "rprivate":
			default:
				m.TmpfsOptions = append(m.TmpfsOptions, o)
			}
			continue
		}
		switch key {
		case "size":
			if pct, ok := strings.CutSuffix(val, "%"); ok {
				if n, err := strconv.Atoi(pct); err != nil || n < 1 || n > 100 || pct[0] == '+' {
					return Mount{}, fmt.Errorf("size %q: a percentage must be 1%% to 100%%", val)
				}
				m.TmpfsOptions = append(m.TmpfsOptions, o)
				continue
			}
			n, err := parseBytes(val)
			if err != nil {
				return Mount{}, fmt.Errorf("size %q: %v", val, err)
			}
			m.TmpfsSize = n
		case "mode":
			mode, err := parseMode(val)
			if err != nil {
				return Mount{}, fmt.Errorf("mode %q: %v", val, err)
			}
			m.TmpfsMode = mode
		case "nr_inodes", "nr_blocks":
			if !validMemparse(val) {
				return Mount{}, fmt.Errorf("%s %q: expected a number with an optional k, m or g suffix, or a percentage", key, val)
			}
			m.TmpfsOptions = append(m.TmpfsOptions, o)
		case "uid", "gid":
			if _, err := strconv.ParseUint(val, 10, 32); err != nil || val[0] == '+' {
				return Mount{}, fmt.Errorf("%s %q: expected a number", key, val)
			}
			m.TmpfsOptions = append(m.TmpfsOptions, o)
		case "huge":
			switch val {
			case "never", "always", "within_size", "advise", "deny", "force":
			default:
				return Mount{}, fmt.Errorf("huge %q: expected never, always, within_size, advise, deny or force", val)
			}
			m.TmpfsOptions = append(m.TmpfsOptions, o)
		default:
			return Mount{}, fmt.Errorf("unknown option %q", o)
		}
	}
	return m, nil
}

// validMemparse accepts what the kernel's memparse takes for nr_inodes and
// nr_blocks, decimal only: digits with an optional k/m/g suffix, or N%.
func validMemparse(s string) bool {
	if s == "" {
		return false
	}
	last := s[len(s)-1]
	switch last {
	case 'k', 'K', 'm', 'M', 'g', 'G', '%':
		s = s[:len(s)-1]
	}
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
