package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cove-run/cove/internal/config"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/runtime"
	"github.com/cove-run/cove/internal/runtime/seccomp"
	"github.com/cove-run/cove/internal/spec"
	"github.com/cove-run/cove/internal/state"
	"github.com/cove-run/cove/internal/storage"
)

// ContainerOptions are the user's `create`/`run` options as typed, kept
// raw in the container's record and parsed by internal/spec, so that a
// container is validated the same way at create and at every start.
type ContainerOptions struct {
	Image       string   `json:"Image"`
	Name        string   `json:"Name,omitempty"`
	Args        []string `json:"Args,omitempty"`
	Entrypoint  *string  `json:"Entrypoint,omitempty"`
	Env         []string `json:"Env,omitempty"`
	EnvFiles    []string `json:"EnvFiles,omitempty"`
	Workdir     string   `json:"Workdir,omitempty"`
	User        string   `json:"User,omitempty"`
	GroupAdd    []string `json:"GroupAdd,omitempty"`
	Hostname    string   `json:"Hostname,omitempty"`
	Labels      []string `json:"Labels,omitempty"`
	LabelFiles  []string `json:"LabelFiles,omitempty"`
	Volumes     []string `json:"Volumes,omitempty"`
	Mounts      []string `json:"Mounts,omitempty"`
	Tmpfs       []string `json:"Tmpfs,omitempty"`
	ReadOnly    bool     `json:"ReadOnly,omitempty"`
	Privileged  bool     `json:"Privileged,omitempty"`
	Init        bool     `json:"Init,omitempty"`
	Tty         bool     `json:"Tty,omitempty"`
	OpenStdin   bool     `json:"OpenStdin,omitempty"`
	AutoRemove  bool     `json:"AutoRemove,omitempty"`
	CapAdd      []string `json:"CapAdd,omitempty"`
	CapDrop     []string `json:"CapDrop,omitempty"`
	SecurityOpt []string `json:"SecurityOpt,omitempty"`
	Devices     []string `json:"Devices,omitempty"`
	Sysctls     []string `json:"Sysctls,omitempty"`
	Ulimits     []string `json:"Ulimits,omitempty"`
	ShmSize     string   `json:"ShmSize,omitempty"`
	StopSignal  string   `json:"StopSignal,omitempty"`
	StopTimeout *int     `json:"StopTimeout,omitempty"`
	Network     string   `json:"Network,omitempty"`
	// Networks are the further --network values, user networks all:
	// Network holds the first.
	Networks []string `json:"Networks,omitempty"`
	// NetworkAliases (--network-alias) and IP (--ip) apply to the user
	// networks.
	NetworkAliases []string `json:"NetworkAliases,omitempty"`
	IP             string   `json:"IP,omitempty"`
	// Publish (-p), PublishAll (-P), Expose, AddHost and the DNS
	// options go with the network (see parseNetwork).
	Publish    []string `json:"Publish,omitempty"`
	PublishAll bool     `json:"PublishAll,omitempty"`
	Expose     []string `json:"Expose,omitempty"`
	AddHost    []string `json:"AddHost,omitempty"`
	DNS        []string `json:"DNS,omitempty"`
	DNSSearch  []string `json:"DNSSearch,omitempty"`
	DNSOption  []string `json:"DNSOption,omitempty"`
	Restart    string   `json:"Restart,omitempty"`
	// LogDriver and LogOpts are --log-driver and --log-opt (see
	// ParseLogConfig in logs_config.go).
	LogDriver string   `json:"LogDriver,omitempty"`
	LogOpts   []string `json:"LogOpts,omitempty"`
	// Userns is --userns (host, keep-id[:uid=N,gid=N]); UIDMap and
	// GIDMap are --uidmap and --gidmap, CONTAINER:HOST:SIZE.
	Userns string   `json:"Userns,omitempty"`
	UIDMap []string `json:"UIDMap,omitempty"`
	GIDMap []string `json:"GIDMap,omitempty"`
	// VolumesFrom are --volumes-from CONTAINER[:ro|rw].
	VolumesFrom []string `json:"VolumesFrom,omitempty"`
	// Pull is always, missing (default) or never.
	Pull string `json:"Pull,omitempty"`
	// Health holds the --health-* flags and --no-healthcheck (see
	// health.go).
	Health HealthOptions `json:"Health,omitzero"`
	// StdinOnce is Docker's: the end of an attached client's input ends
	// the container's. Set for -i by `create` and by a `run` that is not
	// detached (Docker's CLI: -i attaches stdin, and an attached stdin
	// is closed at the client's end); not by `run -di`.
	StdinOnce bool `json:"StdinOnce,omitempty"`
	// Detach is run -d, for inspect's Config.Attach* (Docker clears them
	// for a detached run).
	Detach bool `json:"Detach,omitempty"`
	// ForRun says the creating process (`run`, not `create`) starts the
	// container itself: with AutoRemove it is recorded as the remover,
	// so that its death before a supervisor takes over leaves nothing.
	ForRun bool `json:"-"`
}

// containerRecord is the engine's part of a container's state record.
type containerRecord struct {
	Options     ContainerOptions      `json:"Options"`
	ImageID     string                `json:"ImageID"`
	ImageName   string                `json:"ImageName"`
	ImageConfig imgspecv1.ImageConfig `json:"ImageConfig"`
	StorageID   string                `json:"StorageID"`
	Hostname    string                `json:"Hostname"`
	// ManagedLayer: no storage container; the container's layer is
	// cove's own overlay over the image's layer directories LowerDirs
	// (top first), its upper directory in the record's directory (see
	// managed_layer.go).
	ManagedLayer bool     `json:"ManagedLayer,omitempty"`
	LowerDirs    []string `json:"LowerDirs,omitempty"`
	// LegacyEphemeral is ManagedLayer as records of foreground run --rm
	// containers called it before durable containers had one; readRecord
	// folds it in.
	LegacyEphemeral bool `json:"Ephemeral,omitempty"`
	// Parsed is the validated form of Options, for inspect.
	Parsed parsedOptions `json:"Parsed"`
	// AnonymousVolumes are the volumes created for this container (-v
	// /path, --mount without a source, image VOLUMEs): `rm -v` and --rm
	// remove them.
	AnonymousVolumes []string `json:"AnonymousVolumes,omitempty"`
}

// parsedOptions holds Options after validation.
type parsedOptions struct {
	Env        []string             `json:"Env"`
	Labels     map[string]string    `json:"Labels"`
	Mounts     []spec.Mount         `json:"Mounts"`
	Devices    []spec.Device        `json:"Devices"`
	Ulimits    []spec.Ulimit        `json:"Ulimits"`
	Sysctls    map[string]string    `json:"Sysctls"`
	ShmSize    int64                `json:"ShmSize"`
	Security   spec.SecurityOptions `json:"Security"`
	Restart    spec.RestartPolicy   `json:"Restart"`
	StopSignal string               `json:"StopSignal"`
	Network    string               `json:"Network"`
	Ports      []spec.PortMapping   `json:"Ports,omitempty"`
	Expose     []spec.ExposedPort   `json:"Expose,omitempty"`
	AddHosts   []spec.HostEntry     `json:"AddHosts,omitempty"`
	// UserNetworks are the user-defined networks create connects the
	// container to (network connect and disconnect change the endpoints
	// in the network store, not this).
	UserNetworks []userNetworkRequest `json:"UserNetworks,omitempty"`
	DNS          struct {
		Servers []string `json:"Servers,omitempty"`
		Search  []string `json:"Search,omitempty"`
		Options []string `json:"Options,omitempty"`
	} `json:"DNS"`
	// SeccompProfile holds a --security-opt seccomp=FILE profile's content,
	// embedded at create as Docker does, so the file may change or go.
	SeccompProfile json.RawMessage `json:"SeccompProfile,omitempty"`
	// Healthcheck is the flags' healthcheck, merged with the image's at
	// create (health.go); nil or a NONE test: none.
	Healthcheck *spec.Healthcheck `json:"Healthcheck,omitempty"`
}

// parseOptions validates every user-supplied value before anything is
// created, so that bad input changes nothing.
func parseOptions(o *ContainerOptions) (*parsedOptions, error) {
	// Docker refuses the pair for create as for run: a removed container
	// cannot be restarted.
	if r := o.Restart; o.AutoRemove && r != "" && r != "no" {
		return nil, errdefs.InvalidArgument("conflicting options: --restart %s and --rm", r)
	}
	p := &parsedOptions{Sysctls: map[string]string{}}
	lookup := func(k string) (string, bool) { return os.LookupEnv(k) }
	env, err := spec.UserEnv(o.EnvFiles, o.Env, lookup)
	if err != nil {
		return nil, err
	}
	p.Env = env
	if p.Labels, err = spec.Labels(o.LabelFiles, o.Labels); err != nil {
		return nil, err
	}
	taken := map[string]string{}
	addMount := func(m spec.Mount, flag, v string) error {
		if prev, dup := taken[m.Destination]; dup {
			return errdefs.InvalidArgument("%s %q: duplicate mount point %s (also %s)", flag, v, m.Destination, prev)
		}
		taken[m.Destination] = flag + " " + v
		p.Mounts = append(p.Mounts, m)
		return nil
	}
	for _, v := range o.Volumes {
		m, err := spec.ParseVolume(v)
		if err != nil {
			return nil, err
		}
		if err := addMount(m, "-v", v); err != nil {
			return nil, err
		}
	}
	for _, v := range o.Mounts {
		m, err := spec.ParseMount(v)
		if err != nil {
			return nil, err
		}
		if _, err := parseVolumeOpts("volume-opt", m.VolumeOptions); err != nil {
			return nil, errdefs.InvalidArgument("--mount %q: %s", v, strings.TrimPrefix(err.Error(), errdefs.ErrInvalidArgument.Error()+": "))
		}
		if err := addMount(m, "--mount", v); err != nil {
			return nil, err
		}
	}
	for _, v := range o.Tmpfs {
		m, err := spec.ParseTmpfs(v)
		if err != nil {
			return nil, err
		}
		if err := addMount(m, "--tmpfs", v); err != nil {
			return nil, err
		}
	}
	for _, v := range o.VolumesFrom {
		if _, _, err := parseVolumesFrom(v); err != nil {
			return nil, err
		}
	}
	for _, v := range o.Devices {
		d, err := spec.ParseDevice(v)
		if err != nil {
			return nil, err
		}
		p.Devices = append(p.Devices, d)
	}
	for _, v := range o.Ulimits {
		u, err := spec.ParseUlimit(v)
		if err != nil {
			return nil, err
		}
		p.Ulimits = append(p.Ulimits, u)
	}
	for _, v := range o.Sysctls {
		k, val, err := spec.ParseSysctl(v)
		if err != nil {
			return nil, err
		}
		p.Sysctls[k] = val
	}
	if o.ShmSize != "" {
		if p.ShmSize, err = spec.ParseShmSize(o.ShmSize); err != nil {
			return nil, err
		}
	}
	if p.Security, err = spec.ParseSecurityOpts(o.SecurityOpt); err != nil {
		return nil, err
	}
	if p.Security.Seccomp.Mode == spec.SeccompCustom {
		data, err := os.ReadFile(p.Security.Seccomp.Profile)
		if err != nil {
			return nil, errdefs.InvalidArgument("--security-opt seccomp=%s: %v", p.Security.Seccomp.Profile, err)
		}
		if _, err := seccomp.LoadProfileJSON(data); err != nil {
			return nil, errdefs.InvalidArgument("--security-opt seccomp=%s: %v", p.Security.Seccomp.Profile, err)
		}
		p.SeccompProfile = data
	}
	if o.Restart != "" {
		if p.Restart, err = spec.ParseRestart(o.Restart); err != nil {
			return nil, err
		}
	}
	if err := checkLogOptions(o); err != nil {
		return nil, err
	}
	if p.Healthcheck, err = spec.ParseHealthOptions(spec.HealthOptions(o.Health)); err != nil {
		return nil, err
	}
	if o.StopSignal != "" {
		if _, err := spec.ParseSignal(o.StopSignal); err != nil {
			return nil, err
		}
		p.StopSignal = o.StopSignal
	}
	if _, err := spec.Capabilities(o.CapAdd, o.CapDrop, o.Privileged); err != nil {
		return nil, err
	}
	if o.User != "" {
		if err := spec.ValidateUser(o.User); err != nil {
			return nil, err
		}
	}
	for _, g := range o.GroupAdd {
		if err := spec.ValidateGroup(g); err != nil {
			return nil, err
		}
	}
	if o.Hostname != "" {
		if err := spec.ValidateHostname(o.Hostname); err != nil {
			return nil, err
		}
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return nil, errdefs.InvalidArgument("-w %q: the working directory must be an absolute path", o.Workdir)
	}
	hostUID, _ := config.HostIDs()
	if err := checkUsernsOptions(o, hostUID != 0); err != nil {
		return nil, err
	}
	switch o.Pull {
	case "", "missing", "always", "never":
	default:
		return nil, errdefs.InvalidArgument("--pull %q: use always, missing or never", o.Pull)
	}
	if err := parseNetwork(o, p); err != nil {
		return nil, err
	}
	return p, nil
}

func newContainerID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// States returns the container store.
func (e *Engine) States() (*state.Store, error) {
	if e.states != nil {
		return e.states, nil
	}
	s, err := state.Open(e.Config.StateRoot)
	if err != nil {
		return nil, err
	}
	e.states = s
	return s, nil
}

// CreateContainer validates the options, resolves (and if need be pulls)
// the image, creates the container's layer and records the container. On
// any failure nothing is left behind.
func (e *Engine) CreateContainer(ctx context.Context, o ContainerOptions, progress PullProgress) (id string, err error) {
	phase("create: begin")
	parsed, err := parseOptions(&o)
	if err != nil {
		return "", err
	}
	if o.Name != "" {
		if err := state.ValidName(o.Name); err != nil {
			return "", err
		}
	}
	if isContainerNetwork(parsed.Network) {
		// Docker checks the other container at create; it must run
		// only when this one starts.
		if _, _, err := e.lookupReconciled(strings.TrimPrefix(parsed.Network, "container:")); err != nil {
			return "", err
		}
	}
	svc, err := e.Images()
	if err != nil {
		return "", err
	}
	img, cfg, err := svc.ImageConfig(o.Image)
	phase("create: image resolved")
	switch {
	case o.Pull == "always" || (err != nil && errors.Is(err, errdefs.ErrNotFound) && o.Pull != "never"):
		if _, perr := svc.Pull(ctx, PullRequest{Ref: o.Image, Progress: progress}); perr != nil {
			if err != nil {
				return "", fmt.Errorf("%w (and pulling it failed: %v)", err, perr)
			}
			return "", perr
		}
		img, cfg, err = svc.ImageConfig(o.Image)
		if err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	}
	if parsed.Healthcheck, err = mergeImageHealthcheck(parsed.Healthcheck, svc.Healthcheck(img)); err != nil {
		return "", err
	}
	stores, err := e.States()
	if err != nil {
		return "", err
	}
	anon, err := e.completeMounts(parsed, cfg.Config, o.VolumesFrom)
	if err != nil {
		return "", err
	}
	id = newContainerID()
	name := o.Name
	if name == "" {
		name = randomName()
	}
	st, err := e.Store()
	if err != nil {
		return "", err
	}
	// A container whose layer cove can mount itself is not in storage
	// (managed_layer.go); the layer directories are found now, so that a
	// start needs no storage driver call.
	managed := e.canManageLayer(&o)
	var lowerDirs []string
	if managed {
		lowerDirs, managed = e.managedLowerDirs(img.TopLayer)
	}
	var remover *state.Process
	metadata := ""
	if o.AutoRemove && o.ForRun {
		remover = selfProcess()
		md, _ := json.Marshal(layerMetadata{Remover: remover})
		metadata = string(md)
	}
	storageID := ""
	if !managed {
		// A --rm container's layer and record go to the store's
		// volatile files, written without fsync, and its overlay is
		// mounted "volatile" (no sync of the upper directory): a crash
		// can lose them, and a container that is removed when it exits
		// has nothing to lose. Podman does the same.
		sc, cerr := st.CreateContainer(id, nil, img.ID, "", metadata, storage.ContainerCreation(o.AutoRemove))
		if cerr != nil {
			return "", fmt.Errorf("creating the container's layer: %w", cerr)
		}
		storageID = sc.ID
		phase("create: layer created")
		defer func() {
			if err != nil {
				st.DeleteContainer(sc.ID)
			}
		}()
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	imgName := o.Image
	if len(img.Names) > 0 {
		imgName = img.Names[0]
	}
	rec := containerRecord{Options: o, ImageID: img.ID, ImageName: imgName, ImageConfig: cfg.Config, StorageID: storageID, Hostname: hostname, Parsed: *parsed, AnonymousVolumes: anon, ManagedLayer: managed}
	if managed {
		rec.LowerDirs = lowerDirs
	}
	raw, err := json.Marshal(&rec)
	if err != nil {
		return "", err
	}
	c := &state.Container{ID: id, Name: name, Created: time.Now().UTC(), Config: raw, State: state.State{Status: state.Created}}
	c.State.Remover = remover
	err = e.attachAtCreate(id, parsed, func() error {
		return e.recordWithVolumes(stores, func() error {
			for attempt := 0; ; attempt++ {
				err := stores.Create(c)
				if err == nil || o.Name != "" || attempt == 5 || !errors.Is(err, errdefs.ErrAlreadyExists) {
					return err
				}
				// A generated name collided: draw another.
				c.Name = randomName()
			}
		}, parsed.Mounts, anon)
	})
	if err != nil {
		return "", err
	}
	if managed {
		// Image removal checks records, and this one exists now; an rmi
		// that came between the image's lookup and the record is seen
		// here instead (StillThere orders the two).
		if ierr := svc.StillThere(img.ID); ierr != nil {
			e.RemoveContainer(id, true)
			return "", fmt.Errorf("image %s was removed meanwhile: %w", o.Image, ierr)
		}
	}
	phase("create: recorded")
	return id, nil
}

// PullProgress receives pull progress when create has to pull.
type PullProgress = interface{ Write([]byte) (int, error) }

func readRecord(c *state.Container) (*containerRecord, error) {
	var rec containerRecord
	if err := json.Unmarshal(c.Config, &rec); err != nil {
		return nil, fmt.Errorf("container %s: malformed record: %w", c.ID[:12], err)
	}
	if rec.LegacyEphemeral {
		rec.ManagedLayer, rec.LegacyEphemeral = true, false
	}
	return &rec, nil
}

// specFor builds the OCI spec for a container whose rootfs is mounted.
func (e *Engine) specFor(c *state.Container, rec *containerRecord, rootfs string) (*specs.Spec, error) {
	o := rec.Options
	p := rec.Parsed
	dir, err := e.writeEtcFiles(c, rec)
	if err != nil {
		return nil, err
	}
	in := spec.Input{
		Rootfs:     rootfs,
		Image:      rec.ImageConfig,
		Cmd:        o.Args,
		Env:        p.Env,
		WorkingDir: o.Workdir,
		User:       o.User,
		GroupAdd:   o.GroupAdd,
		Hostname:   rec.Hostname,
		Tty:        o.Tty,
		ReadOnly:   o.ReadOnly,
		Privileged: o.Privileged,
		CapAdd:     o.CapAdd,
		CapDrop:    o.CapDrop,
		Security:   p.Security,
		Mounts:     p.Mounts,
		Devices:    p.Devices,
		Ulimits:    p.Ulimits,
		Sysctls:    p.Sysctls,
		ShmSize:    p.ShmSize,
		Network:    p.Network,
		SystemMounts: []specs.Mount{
			{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(dir, "hosts"), Options: []string{"rbind", "rprivate"}},
			{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(dir, "hostname"), Options: []string{"rbind", "rprivate"}},
			{Destination: "/etc/resolv.conf", Type: "bind", Source: filepath.Join(dir, "resolv.conf"), Options: []string{"rbind", "rprivate"}},
		},
		Annotations: initAnnotation(o.Init),
	}
	if o.Entrypoint != nil {
		if *o.Entrypoint == "" {
			in.Entrypoint = []string{}
		} else {
			in.Entrypoint = []string{*o.Entrypoint}
		}
	}
	// Image VOLUMEs became anonymous volumes at create (completeMounts),
	// in the recorded mounts.
	in.Image.Volumes = nil
	if in.Mounts, err = e.volumeMounts(p.Mounts, rootfs); err != nil {
		return nil, err
	}
	for i := range in.Mounts {
		m := &in.Mounts[i]
		if m.Type != spec.MountBind {
			continue
		}
		if _, err := os.Stat(m.Source); err != nil && m.CreateSource {
			// Docker creates a missing -v source as a directory; an
			// existing file or directory is bound as it is.
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return nil, errdefs.InvalidArgument("-v %s:%s: creating the host directory: %v", m.Source, m.Destination, err)
			}
		}
		// A source that is (or passes through) a symlink is bound, and
		// chowned for :U, as the directory it names, resolved once here
		// on the host: the container sees the target, never the link.
		if real, err := filepath.EvalSymlinks(m.Source); err == nil {
			m.Source = real
		}
	}
	if err := overlayMounts(in.Mounts, dir, e.Config.Rootless); err != nil {
		return nil, err
	}
	sp, err := spec.Generate(in)
	if err != nil {
		return nil, err
	}
	if err := e.applyUserns(sp, c, rec, rootfs); err != nil {
		return nil, err
	}
	if sp.Process != nil {
		// :U takes the IDs of cove's namespace that the container's
		// user is (the same numbers unless the container has its own
		// user namespace).
		uid, gid := sp.Process.User.UID, sp.Process.User.GID
		if sp.Linux.UIDMappings != nil {
			uid, _ = spec.MapID(sp.Linux.UIDMappings, uid)
			gid, _ = spec.MapID(sp.Linux.GIDMappings, gid)
		}
		if err := chownMounts(in.Mounts, int(uid), int(gid)); err != nil {
			return nil, err
		}
	}
	if err := applySeccomp(sp, p.SeccompProfile); err != nil {
		return nil, err
	}
	return sp, nil
}

// applySeccomp fills the spec's seccomp section from the policy Generate
// recorded: the default profile, a user's JSON profile, or none.
func applySeccomp(sp *specs.Spec, custom []byte) error {
	pol, err := spec.SeccompOf(sp)
	if err != nil {
		return err
	}
	var profile *seccomp.Profile
	switch pol.Mode {
	case spec.SeccompUnconfined:
		return nil
	case spec.SeccompCustom:
		if profile, err = seccomp.LoadProfileJSON(custom); err != nil {
			return errdefs.InvalidArgument("--security-opt seccomp=%s: %v", pol.Profile, err)
		}
	default:
		profile = seccomp.DefaultProfile()
	}
	var caps []string
	if sp.Process != nil && sp.Process.Capabilities != nil {
		caps = sp.Process.Capabilities.Bounding
	}
	ls, err := seccomp.ToSpec(profile, caps, "")
	if err != nil {
		return errdefs.InvalidArgument("seccomp profile: %v", err)
	}
	if sp.Linux == nil {
		sp.Linux = &specs.Linux{}
	}
	sp.Linux.Seccomp = ls
	return nil
}

// writeEtcFiles writes the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf into its state directory, to be bind-mounted.
func (e *Engine) writeEtcFiles(c *state.Container, rec *containerRecord) (string, error) {
	stores, err := e.States()
	if err != nil {
		return "", err
	}
	dir := stores.Dir(c.ID)
	atts, err := e.attachmentsOf(c.ID)
	if err != nil {
		return "", err
	}
	var hosts, resolv string
	if isContainerNetwork(rec.Parsed.Network) {
		// The other container's files, as Docker shares them: its
		// names and resolver are this container's.
		other, err := e.networkOwner(c, rec.Parsed.Network)
		if err != nil {
			return "", err
		}
		h, _ := os.ReadFile(filepath.Join(stores.Dir(other.ID), "hosts"))
		r, _ := os.ReadFile(filepath.Join(stores.Dir(other.ID), "resolv.conf"))
		hosts, resolv = string(h), string(r)
	} else if hosts, resolv, err = e.etcNetworkFiles(c, rec, e.Config.RunRoot, atts); err != nil {
		return "", err
	}
	hostname := rec.Hostname
	if rec.Parsed.Network == spec.NetworkHost && rec.Options.Hostname == "" {
		hostname, _ = os.Hostname()
	}
	for name, data := range map[string][]byte{"hosts": []byte(hosts), "hostname": []byte(hostname + "\n"), "resolv.conf": []byte(resolv)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

var adjectives = []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quiet", "sharp", "tender", "vivid", "witty", "zen"}
var nouns = []string{"otter", "heron", "lynx", "wren", "ibex", "koala", "marten", "newt", "orca", "puffin", "quokka", "raven", "stoat", "tapir", "vole", "yak"}

func randomName() string {
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s_%s%d", adjectives[int(b[0])%len(adjectives)], nouns[int(b[1])%len(nouns)], int(b[2])%100)
}

// AnnotationInit asks the runtime to keep cove's reaper as the container's
// PID 1 (--init): it forks the command, forwards signals to it, reaps
// orphans and exits with the command's status.
const AnnotationInit = runtime.AnnotationInit

func initAnnotation(on bool) map[string]string {
	if !on {
		return nil
	}
	return map[string]string{AnnotationInit: "true"}
}

// ValidateContainerOptions checks every option as create would, without
// creating anything (run --replace validates before it removes).
func ValidateContainerOptions(o ContainerOptions) error {
	_, err := parseOptions(&o)
	return err
}
