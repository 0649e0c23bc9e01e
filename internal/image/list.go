package image

import (
	"fmt"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"

	"github.com/cove-run/cove/internal/errdefs"
)

// Summary is one row of `cove images`.
type Summary struct {
	ID          string            `json:"Id"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Digest      string            `json:"Digest"`
	Created     time.Time         `json:"Created"`
	Size        int64             `json:"Size"`
	Labels      map[string]string `json:"Labels"`
	Dangling    bool              `json:"Dangling"`
	// Intermediate is true for images with no name that another image
	// builds on (hidden without -a, as in Docker).
	Intermediate bool `json:"-"`
	Containers   int  `json:"Containers"`
}

// Filter is a parsed --filter of `images` and `image prune`.
type Filter struct {
	Dangling   *bool
	References []string
	Labels     []string // key or key=value
	NotLabels  []string // label!=... (prune)
	Before     *time.Time
	Since      *time.Time
	Until      *time.Time
}

// ParseFilters parses Docker's key=value image filters. before, since and
// until take an image reference (before/since) or a timestamp/duration
// (until), resolved with lookup.
func (s *Service) ParseFilters(raw []string) (*Filter, error) {
	f := &Filter{}
	for _, r := range raw {
		k, v, ok := strings.Cut(r, "=")
		if !ok || v == "" && k != "label" {
			return nil, errdefs.InvalidArgument("filter %q: expected KEY=VALUE", r)
		}
		switch k {
		case "dangling":
			switch strings.ToLower(v) {
			case "true", "1":
				t := true
				f.Dangling = &t
			case "false", "0":
				b := false
				f.Dangling = &b
			default:
				return nil, errdefs.InvalidArgument("filter %q: dangling takes true or false", r)
			}
		case "reference":
			f.References = append(f.References, v)
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		case "before", "since":
			img, err := s.Lookup(v)
			if err != nil {
				return nil, fmt.Errorf("filter %q: %w", r, err)
			}
			t := img.Created
			if k == "before" {
				f.Before = &t
			} else {
				f.Since = &t
			}
		case "until":
			t, err := parseTimeOrDuration(v)
			if err != nil {
				return nil, errdefs.InvalidArgument("filter %q: %v", r, err)
			}
			f.Until = &t
		default:
			return nil, errdefs.InvalidArgument("filter %q: unknown filter %q (use dangling, reference, label, before, since, until)", r, k)
		}
	}
	return f, nil
}

func parseTimeOrDuration(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	var sec int64
	if _, err := fmt.Sscanf(v, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a timestamp nor a duration", v)
}

// List returns the images in the store, newest first. Labels are read
// (from each image's configuration) only when withLabels is set or a
// label filter needs them.
func (s *Service) List(all bool, f *Filter, withLabels bool) ([]Summary, error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, err
	}
	ctrs, _ := s.store.Containers()
	users := map[string]int{}
	for _, c := range ctrs {
		users[c.ImageID]++
	}
	if s.opts.MoreUsers != nil {
		for id, more := range s.opts.MoreUsers() {
			users[id] += len(more)
		}
	}
	// One read of the layer store serves sizes and parentage.
	layers, err := s.store.Layers()
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*cstorage.Layer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	// An unnamed image whose top layer lies below another image's top
	// layer is an intermediate image (a build step, or the base of an
	// image built on it): hidden without -a, as in Docker and podman.
	below := map[string]bool{}
	for i := range imgs {
		l := byID[imgs[i].TopLayer]
		for l != nil && l.Parent != "" && !below[l.Parent] {
			below[l.Parent] = true
			l = byID[l.Parent]
		}
	}
	needLabels := withLabels || f != nil && (len(f.Labels) > 0 || len(f.NotLabels) > 0)
	out := make([]Summary, 0, len(imgs))
	for i := range imgs {
		img := &imgs[i]
		sum := s.summary(img, byID, needLabels)
		sum.Containers = users[img.ID]
		sum.Intermediate = len(img.Names) == 0 && below[img.TopLayer]
		if !all && sum.Intermediate {
			continue
		}
		if f != nil && !f.match(&sum) {
			continue
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// summary describes one image. The configuration is read only when the
// caller needs labels or the store lacks the creation time: listing stays
// one pass over the store's own records.
func (s *Service) summary(img *cstorage.Image, layers map[string]*cstorage.Layer, withLabels bool) Summary {
	tags, digests := RepoTagsAndDigests(img)
	sum := Summary{
		ID:          "sha256:" + img.ID,
		RepoTags:    tags,
		RepoDigests: digests,
		Digest:      img.Digest.String(),
		Created:     img.Created,
		Size:        chainSize(img.TopLayer, layers),
		Dangling:    len(tags) == 0,
	}
	if withLabels || sum.Created.IsZero() {
		if cfg, err := s.Config(img); err == nil {
			sum.Labels = cfg.Config.Labels
			if cfg.Created != nil && sum.Created.IsZero() {
				sum.Created = *cfg.Created
			}
		}
	}
	return sum
}

// chainSize sums the uncompressed sizes of a layer and its parents.
func chainSize(top string, layers map[string]*cstorage.Layer) int64 {
	var total int64
	for l := layers[top]; l != nil; l = layers[l.Parent] {
		if l.UncompressedSize > 0 {
			total += l.UncompressedSize
		}
		if l.Parent == "" {
			break
		}
	}
	return total
}

func (f *Filter) match(s *Summary) bool {
	if f.Dangling != nil && *f.Dangling != s.Dangling {
		return false
	}
	if len(f.References) > 0 {
		ok := false
		for _, pat := range f.References {
			for _, t := range s.RepoTags {
				if matchReference(pat, t) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	for _, l := range f.Labels {
		if !hasLabel(s.Labels, l) {
			return false
		}
	}
	for _, l := range f.NotLabels {
		if hasLabel(s.Labels, l) {
			return false
		}
	}
	if f.Before != nil && !s.Created.Before(*f.Before) {
		return false
	}
	if f.Since != nil && !s.Created.After(*f.Since) {
		return false
	}
	if f.Until != nil && !s.Created.Before(*f.Until) {
		return false
	}
	return true
}

func hasLabel(labels map[string]string, want string) bool {
	k, v, withValue := strings.Cut(want, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

// matchReference matches Docker's reference filter: a glob on the
// familiar name ("busybox", "cove-test/*", "busybox:1.*") or the full name.
func matchReference(pattern, name string) bool {
	fam := familiar(name)
	for _, cand := range []string{name, fam} {
		if globMatch(pattern, cand) {
			return true
		}
		repo, _, _ := strings.Cut(cand, ":")
		if i := strings.LastIndex(cand, ":"); i >= 0 {
			repo = cand[:i]
		}
		if globMatch(pattern, repo) {
			return true
		}
	}
	return false
}

func familiar(name string) string {
	n := strings.TrimPrefix(name, "docker.io/")
	return strings.TrimPrefix(n, "library/")
}

func globMatch(pattern, s string) bool {
	ok, err := pathMatch(pattern, s)
	return err == nil && ok
}

// History is one entry of `cove history`.
type History struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`
	Size      int64     `json:"size"`
	Comment   string    `json:"comment"`
	Tags      []string  `json:"tags"`
	Empty     bool      `json:"-"`
}

// History returns an image's history, newest first.
func (s *Service) History(nameOrID string) ([]History, error) {
	img, err := s.Lookup(nameOrID)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	layers := s.layerChain(img)
	var out []History
	li := 0
	for _, h := range cfg.History {
		e := History{CreatedBy: h.CreatedBy, Comment: h.Comment, Empty: h.EmptyLayer, ID: "<missing>"}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer && li < len(layers) {
			if layers[li].UncompressedSize > 0 {
				e.Size = layers[li].UncompressedSize
			}
			li++
		}
		out = append(out, e)
	}
	if len(cfg.History) == 0 {
		for _, l := range layers {
			out = append(out, History{ID: "<missing>", Created: l.Created, Size: l.UncompressedSize})
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = "sha256:" + img.ID
		out[0].Tags, _ = RepoTagsAndDigests(img)
	}
	return out, nil
}

// Inspect is Docker's image inspect schema, so existing templates work.
type Inspect struct {
	ID            string        `json:"Id"`
	RepoTags      []string      `json:"RepoTags"`
	RepoDigests   []string      `json:"RepoDigests"`
	Parent        string        `json:"Parent"`
	Comment       string        `json:"Comment"`
	Created       string        `json:"Created"`
	DockerVersion string        `json:"DockerVersion"`
	Author        string        `json:"Author"`
	Config        InspectConfig `json:"Config"`
	Architecture  string        `json:"Architecture"`
	Variant       string        `json:"Variant,omitempty"`
	Os            string        `json:"Os"`
	Size          int64         `json:"Size"`
	VirtualSize   int64         `json:"VirtualSize"`
	GraphDriver   struct {
		Data map[string]string `json:"Data"`
		Name string            `json:"Name"`
	} `json:"GraphDriver"`
	RootFS struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	Metadata struct {
		LastTagTime string `json:"LastTagTime"`
	} `json:"Metadata"`
}

// InspectConfig is the Config section in Docker's shape.
type InspectConfig struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

// HealthConfig is Docker's healthcheck configuration (nanosecond durations).
type HealthConfig struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// Inspect returns the Docker-shaped description of a local image.
func (s *Service) Inspect(nameOrID string) (*Inspect, error) {
	img, err := s.Lookup(nameOrID)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	in := &Inspect{ID: "sha256:" + img.ID, Architecture: cfg.Architecture, Variant: cfg.Variant, Os: cfg.OS, Author: cfg.Author}
	in.RepoTags, in.RepoDigests = RepoTagsAndDigests(img)
	if cfg.Created != nil {
		in.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	} else {
		in.Created = img.Created.UTC().Format(time.RFC3339Nano)
	}
	in.Size = s.Size(img)
	in.VirtualSize = in.Size
	c := cfg.Config
	in.Config = InspectConfig{
		User: c.User, Env: nonNil(c.Env), Cmd: c.Cmd, Entrypoint: c.Entrypoint, WorkingDir: c.WorkingDir,
		Labels: c.Labels, StopSignal: c.StopSignal, ExposedPorts: c.ExposedPorts, Volumes: c.Volumes,
	}
	if len(img.Names) > 0 {
		in.Comment = ""
	}
	for _, h := range cfg.History {
		if h.Comment != "" {
			in.Comment = h.Comment
		}
	}
	if hc := healthFromConfig(s, img); hc != nil {
		in.Config.Healthcheck = hc
	}
	in.RootFS.Type = "layers"
	in.RootFS.Layers = make([]string, len(cfg.RootFS.DiffIDs))
	for i, d := range cfg.RootFS.DiffIDs {
		in.RootFS.Layers[i] = d.String()
	}
	in.GraphDriver.Name = s.store.GraphDriverName()
	in.GraphDriver.Data = map[string]string{}
	in.Metadata.LastTagTime = "0001-01-01T00:00:00Z"
	return in, nil
}

// Healthcheck returns the image's HEALTHCHECK (Docker's config field,
// which the OCI image config drops), or nil.
func (s *Service) Healthcheck(img *cstorage.Image) *HealthConfig {
	return healthFromConfig(s, img)
}

// healthFromConfig reads the Docker-only Healthcheck field, which the OCI
// config type drops.
func healthFromConfig(s *Service, img *cstorage.Image) *HealthConfig {
	data, err := s.store.ImageBigData(img.ID, digest.NewDigestFromEncoded(digest.SHA256, img.ID).String())
	if err != nil {
		return nil
	}
	var raw struct {
		Config struct {
			Healthcheck *HealthConfig `json:"Healthcheck"`
		} `json:"config"`
	}
	if jsonUnmarshal(data, &raw) != nil {
		return nil
	}
	return raw.Config.Healthcheck
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ImageConfig is exported for the engine: the parsed OCI config of a local image.
func (s *Service) ImageConfig(nameOrID string) (*cstorage.Image, *imgspecv1.Image, error) {
	img, err := s.Lookup(nameOrID)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil, nil, err
	}
	return img, cfg, nil
}

// Exists reports whether a local image matches nameOrID.
func (s *Service) Exists(nameOrID string) (bool, error) {
	_, err := s.Lookup(nameOrID)
	if err == nil {
		return true, nil
	}
	if errorsIsNotFound(err) {
		return false, nil
	}
	return false, err
}
