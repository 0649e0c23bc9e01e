// Package image is cove's door to go.podman.io/image/v5: it resolves
// references the way Docker does, pulls, pushes, lists, tags, removes,
// saves, loads and imports images in the store opened by internal/storage.
package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"

	"github.com/cove-run/cove/internal/errdefs"
)

// Options configure the image service for one invocation.
type Options struct {
	// StateRoot holds cove's blob-info cache.
	StateRoot string
	// Platform selects from multi-platform images; empty fields mean this
	// host's OS and architecture.
	OS, Arch, Variant string
	// MoreUsers lists containers that use images without storage knowing
	// (cove's ephemeral containers), by image ID; nil for none. Image
	// removal and the listing's container counts consult it.
	MoreUsers func() map[string][]string
}

// Service performs image operations on one store.
type Service struct {
	store cstorage.Store
	opts  Options
}

// New returns a service for store.
func New(store cstorage.Store, opts Options) *Service {
	return &Service{store: store, opts: opts}
}

// Store returns the underlying store.
func (s *Service) Store() cstorage.Store { return s.store }

// systemContext builds the library's context. tlsVerify nil means the
// default: verify, except for registries on loopback (Docker's behaviour),
// which are reached over plain HTTP without any configuration.
func (s *Service) systemContext(registry string, tlsVerify *bool) *types.SystemContext {
	sys := &types.SystemContext{
		BlobInfoCacheDir:   filepath.Join(s.opts.StateRoot, "cache"),
		OSChoice:           s.opts.OS,
		ArchitectureChoice: s.opts.Arch,
		VariantChoice:      s.opts.Variant,
	}
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		sys.AuthFilePath = f
	}
	switch {
	case tlsVerify != nil:
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!*tlsVerify)
		sys.OCIInsecureSkipTLSVerify = !*tlsVerify
	case registry != "" && IsLoopbackRegistry(registry):
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	return sys
}

// IsLoopbackRegistry reports whether a registry host[:port] is on this
// machine: localhost, 127.0.0.0/8 or ::1.
func IsLoopbackRegistry(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// policyContext returns the signature policy: the user's or the system's
// policy.json when one exists, else accept anything (Docker has no policy).
func policyContext(sys *types.SystemContext) (*signature.PolicyContext, error) {
	pol, err := signature.DefaultPolicy(sys)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading signature policy: %w", err)
		}
		pol = &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}
	}
	return signature.NewPolicyContext(pol)
}

// ParseName validates a Docker-style image reference and normalises it
// (alpine -> docker.io/library/alpine:latest).
func ParseName(s string) (reference.Named, error) {
	if s == "" {
		return nil, invalidf(`invalid reference format "": empty image name`)
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, invalidCause(err, "invalid reference format %q: %s", s, reasonOf(err))
	}
	// NAME:TAG@DIGEST means the digest, as in Docker (the library cannot
	// use both at once).
	if d, ok := named.(reference.Digested); ok {
		if _, tagged := named.(reference.Tagged); tagged {
			if named, err = reference.WithDigest(reference.TrimNamed(named), d.Digest()); err != nil {
				return nil, invalidCause(err, "invalid reference format %q: %v", s, err)
			}
		}
	}
	return reference.TagNameOnly(named), nil
}

// isShortName reports whether the user named no registry.
func isShortName(s string) bool {
	i := strings.IndexRune(s, '/')
	if i < 0 {
		return true
	}
	first := s[:i]
	return !strings.ContainsAny(first, ".:") && first != "localhost"
}

// candidates lists the fully qualified names a user's reference may mean,
// in the order Docker users expect: an alias from registries.conf, then
// docker.io, then the configured search registries; never a prompt. (A
// local lookup tries docker.io's reading before all of them: see Lookup.)
func (s *Service) candidates(ref string) ([]reference.Named, error) {
	named, err := ParseName(ref)
	if err != nil {
		return nil, err
	}
	if !isShortName(ref) {
		return []reference.Named{named}, nil
	}
	var out []reference.Named
	seen := map[string]bool{}
	add := func(n reference.Named) {
		if !seen[n.String()] {
			seen[n.String()] = true
			out = append(out, n)
		}
	}
	sys := s.systemContext("", nil)
	// Aliases are keyed by the name without tag or digest.
	base := ref
	if i := strings.IndexAny(base, "@"); i >= 0 {
		base = base[:i]
	}
	if i := strings.LastIndex(base, ":"); i >= 0 && !strings.Contains(base[i:], "/") {
		base = base[:i]
	}
	if alias, _, err := sysregistriesv2.ResolveShortNameAlias(sys, base); err == nil && alias != nil {
		if withTail, err := reattach(alias, named); err == nil {
			add(withTail)
		}
	}
	add(named)
	if regs, err := sysregistriesv2.UnqualifiedSearchRegistries(sys); err == nil {
		path := reference.Path(named)
		if strings.HasPrefix(path, "library/") && !strings.HasPrefix(ref, "library/") {
			path = strings.TrimPrefix(path, "library/")
		}
		for _, r := range regs {
			if n, err := reference.ParseNormalizedNamed(r + "/" + path); err == nil {
				if withTail, err := reattach(n, named); err == nil {
					add(withTail)
				}
			}
		}
	}
	return out, nil
}

// reattach puts the tag or digest of from onto repo.
func reattach(repo, from reference.Named) (reference.Named, error) {
	repo = reference.TrimNamed(repo)
	if d, ok := from.(reference.Digested); ok {
		return reference.WithDigest(repo, d.Digest())
	}
	if t, ok := from.(reference.Tagged); ok {
		return reference.WithTag(repo, t.Tag())
	}
	return reference.TagNameOnly(repo), nil
}

// NotFound returns the "no such image" error Docker users recognise.
func NotFound(name string) error {
	return notFoundf(nil, "no such image: %s", name)
}

// Lookup finds a local image by full or short ID, ID prefix, or name.
func (s *Service) Lookup(nameOrID string) (*cstorage.Image, error) {
	if nameOrID == "" {
		return nil, invalidf(`no such image: "" (empty image name)`)
	}
	id := strings.TrimPrefix(nameOrID, "sha256:")
	if isHexPrefix(id) {
		if img, err := s.store.Image(id); err == nil {
			return img, nil
		}
		if len(id) >= 3 {
			imgs, err := s.store.Images()
			if err != nil {
				return nil, err
			}
			var match *cstorage.Image
			for i := range imgs {
				if strings.HasPrefix(imgs[i].ID, id) {
					if match != nil {
						return nil, invalidf("image ID prefix %q is ambiguous: it matches %s and %s", nameOrID, shortID(match.ID), shortID(imgs[i].ID))
					}
					match = &imgs[i]
				}
			}
			if match != nil {
				return match, nil
			}
		}
	}
	// Docker's reading of the name first (docker.io, library/): found
	// here, it is what a Docker user means, and it spares reading
	// registries.conf and parsing its short-name aliases (the shipped
	// shortnames.conf), 2.3-2.9 ms of every run of a local image. An alias
	// still wins for a name Docker's reading does not find; only when both
	// images are here does the alias's lose (Docker has no aliases).
	if named, err := ParseName(nameOrID); err == nil {
		if img, err := s.lookupNamed(named); err == nil {
			return img, nil
		}
	}
	cands, err := s.localCandidates(nameOrID)
	if err != nil {
		if isHexPrefix(id) {
			// A full ID is not a valid name; it is simply not here.
			return nil, NotFound(nameOrID)
		}
		return nil, err
	}
	for _, c := range cands {
		if img, err := s.lookupNamed(c); err == nil {
			return img, nil
		}
	}
	return nil, NotFound(nameOrID)
}

// localCandidates adds localhost/NAME (how podman names unqualified local
// builds) to the remote candidates.
func (s *Service) localCandidates(ref string) ([]reference.Named, error) {
	cands, err := s.candidates(ref)
	if err != nil {
		return nil, err
	}
	if isShortName(ref) {
		if n, err := reference.ParseNormalizedNamed("localhost/" + ref); err == nil {
			cands = append(cands, reference.TagNameOnly(n))
		}
	}
	return cands, nil
}

func (s *Service) lookupNamed(n reference.Named) (*cstorage.Image, error) {
	if d, ok := n.(reference.Digested); ok {
		repo := reference.TrimNamed(n).String()
		imgs, err := s.store.Images()
		if err != nil {
			return nil, err
		}
		for i := range imgs {
			for _, dg := range imgs[i].Digests {
				if dg == d.Digest() && hasRepo(imgs[i].Names, repo) {
					return &imgs[i], nil
				}
			}
		}
		return nil, errdefs.ErrNotFound
	}
	return s.store.Image(n.String())
}

func hasRepo(names []string, repo string) bool {
	for _, n := range names {
		if r, _, ok := strings.Cut(n, ":"); ok && (r == repo || strings.HasPrefix(n, repo+":") || strings.HasPrefix(n, repo+"@")) {
			return true
		}
	}
	return false
}

func isHexPrefix(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Config reads an image's OCI configuration.
func (s *Service) Config(img *cstorage.Image) (*imgspecv1.Image, error) {
	data, err := s.store.ImageBigData(img.ID, digest.NewDigestFromEncoded(digest.SHA256, img.ID).String())
	if err != nil {
		return nil, fmt.Errorf("image %s: reading its configuration: %w", shortID(img.ID), err)
	}
	var cfg imgspecv1.Image
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: malformed configuration: %w", shortID(img.ID), err)
	}
	return &cfg, nil
}

// storeRef returns the storage transport reference for an image.
func (s *Service) storeRef(named reference.Named, id string) (types.ImageReference, error) {
	return istorage.Transport.NewStoreReference(s.store, named, id)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Size returns the image's size: the sum of its layers' uncompressed sizes.
func (s *Service) Size(img *cstorage.Image) int64 {
	var total int64
	for id := img.TopLayer; id != ""; {
		l, err := s.store.Layer(id)
		if err != nil {
			break
		}
		if l.UncompressedSize > 0 {
			total += l.UncompressedSize
		}
		id = l.Parent
	}
	return total
}

// Layers returns the image's layer IDs, bottom first.
func (s *Service) layerChain(img *cstorage.Image) []*cstorage.Layer {
	var chain []*cstorage.Layer
	for id := img.TopLayer; id != ""; {
		l, err := s.store.Layer(id)
		if err != nil {
			break
		}
		chain = append(chain, l)
		id = l.Parent
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain
}

// RepoTagsAndDigests splits an image's names into Docker's RepoTags and
// RepoDigests.
func RepoTagsAndDigests(img *cstorage.Image) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	seen := map[string]bool{}
	for _, n := range img.Names {
		if strings.Contains(n, "@") {
			f := reference.FamiliarString(mustParse(n))
			if !seen[f] {
				digests = append(digests, f)
				seen[f] = true
			}
			continue
		}
		tags = append(tags, reference.FamiliarString(mustParse(n)))
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		for _, d := range img.Digests {
			rd := reference.FamiliarName(named) + "@" + d.String()
			if !seen[rd] {
				digests = append(digests, rd)
				seen[rd] = true
			}
		}
	}
	sort.Strings(digests)
	return tags, digests
}

// withTimeout bounds registry operations so that an unreachable registry
// fails instead of hanging a script forever.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 30*time.Minute)
}

// mustParse parses a stored name; names in the store were validated when
// they were written, so a failure falls back to the raw string's repo.
func mustParse(n string) reference.Named {
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		named, _ = reference.ParseNormalizedNamed("invalid/name")
	}
	return named
}
