package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	cimage "go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"

	"github.com/cove-run/cove/internal/errdefs"
)

// PullRequest describes a pull.
type PullRequest struct {
	Ref       string
	AllTags   bool
	TLSVerify *bool
	// Progress receives human-readable progress; nil discards it.
	Progress io.Writer
}

// transportOf returns the transport named by a "transport:rest" reference,
// or nil for a plain Docker reference (Docker's syntax has no transports, so
// "host:5000/img" and "img:tag" are references, not transports).
func transportOf(ref string) types.ImageTransport {
	name, rest, ok := strings.Cut(ref, ":")
	if !ok || isPortPrefix(rest) {
		return nil
	}
	return transports.Get(name)
}

// isPortPrefix reports whether s starts like the "5000/" of
// "host:5000/repo": a registry port, even when the host happens to be
// called like a transport.
func isPortPrefix(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '/'
}

// transportPrefix returns the scheme of what can only be meant as a
// transport: "name://...", "name:/path", "name:./path" or "name:../path".
func transportPrefix(ref string) (string, bool) {
	name, rest, ok := strings.Cut(ref, ":")
	if !ok || name == "" || !(strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "../")) {
		return "", false
	}
	for i, c := range name {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-')) {
			return "", false
		}
	}
	return name, true
}

// knownTransports lists what pull and push accept, for error messages.
const knownTransports = "docker:// (the default), docker-archive:, oci-archive:, oci:, dir:"

// KnownTransport reports whether ref starts with a transport name.
func KnownTransport(ref string) bool { return transportOf(ref) != nil }

// checkReference parses a registry reference typed by the user and turns
// a failure into a message naming the input (and an unknown transport, if
// that is what the input looks like).
func checkReference(ref string) error {
	if _, err := ParseName(ref); err != nil {
		if name, ok := transportPrefix(ref); ok && transports.Get(name) == nil {
			return invalidf("unknown transport %q in %q: use %s", name, ref, knownTransports)
		}
		return err
	}
	return nil
}

// Pull copies an image into the store and returns the IDs pulled.
func (s *Service) Pull(ctx context.Context, req PullRequest) ([]string, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if t := transportOf(req.Ref); t != nil && t.Name() != "docker" {
		if req.AllTags {
			return nil, invalidf("%q: --all-tags works only with registries, not with %s:", req.Ref, t.Name())
		}
		return s.pullFromTransport(ctx, req, t.Name())
	}
	ref := strings.TrimPrefix(req.Ref, "docker://")
	if err := checkReference(ref); err != nil {
		return nil, err
	}
	if req.AllTags {
		return s.pullAllTags(ctx, ref, req)
	}
	cands, err := s.candidates(ref)
	if err != nil {
		return nil, err
	}
	var tried []string
	var last error
	for _, named := range cands {
		id, err := s.pullNamed(ctx, named, req)
		if err == nil {
			return []string{id}, nil
		}
		// Only "not there" moves on to the next candidate; anything else
		// (network, credentials) is the answer.
		if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
		tried = append(tried, named.String())
		last = err
	}
	if len(tried) == 1 {
		return nil, last
	}
	return nil, notFoundf(last, "no such image: %s (tried %s)", req.Ref, strings.Join(tried, ", "))
}

func (s *Service) pullAllTags(ctx context.Context, ref string, req PullRequest) ([]string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, invalidCause(err, "invalid reference format %q: %s", ref, reasonOf(err))
	}
	if !reference.IsNameOnly(named) {
		return nil, invalidf("%q: --all-tags takes a repository without a tag or digest", ref)
	}
	dref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, invalidCause(err, "%q: %v", ref, err)
	}
	tags, err := docker.GetRepositoryTags(ctx, s.systemContext(reference.Domain(named), req.TLSVerify), dref)
	if err != nil {
		return nil, registryError(named, err)
	}
	sort.Strings(tags)
	var ids []string
	seen := map[string]bool{}
	for _, tag := range tags {
		tagged, err := reference.WithTag(named, tag)
		if err != nil {
			continue
		}
		id, err := s.pullNamed(ctx, tagged, req)
		if err != nil {
			return ids, err
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (s *Service) pullNamed(ctx context.Context, named reference.Named, req PullRequest) (string, error) {
	src, err := docker.NewReference(named)
	if err != nil {
		return "", invalidCause(err, "%s: %v", named, err)
	}
	dst, err := s.storeRef(named, "")
	if err != nil {
		return "", err
	}
	sys := s.systemContext(reference.Domain(named), req.TLSVerify)
	if req.Progress != nil {
		fmt.Fprintf(req.Progress, "Trying to pull %s...\n", named)
	}
	if err := s.checkPlatform(ctx, src, sys); err != nil {
		return "", registryError(named, err)
	}
	id, err := s.copyInto(ctx, src, dst, sys, req.Progress, "")
	if err != nil {
		return "", registryError(named, err)
	}
	return id, nil
}

// platformError is a platform the image does not have.
type platformError struct{ msg string }

func (e *platformError) Error() string { return e.msg }

// checkPlatform makes --platform mean what Docker makes it mean: a
// multi-platform image must have that platform (the copy would fail
// anyway, but with a worse message), and a single-platform image must be
// that platform instead of being stored silently under the wrong one.
func (s *Service) checkPlatform(ctx context.Context, ref types.ImageReference, sys *types.SystemContext) error {
	if s.opts.OS == "" && s.opts.Arch == "" {
		return nil
	}
	want := s.opts.OS + "/" + s.opts.Arch
	if s.opts.Variant != "" {
		want += "/" + s.opts.Variant
	}
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return err
	}
	defer src.Close()
	raw, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return err
	}
	if manifest.MIMETypeIsMultiImage(mt) {
		list, err := manifest.ListFromBlob(raw, mt)
		if err != nil {
			return err
		}
		if _, err := list.ChooseInstance(sys); err != nil {
			var have []string
			for _, d := range list.Instances() {
				if in, err := list.Instance(d); err == nil && in.ReadOnly.Platform != nil {
					p := in.ReadOnly.Platform
					have = append(have, strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/"))
				}
			}
			return &platformError{fmt.Sprintf("no matching manifest for %s in the manifest list entries (it has %s)", want, strings.Join(have, ", "))}
		}
		return nil
	}
	img, err := cimage.FromUnparsedImage(ctx, sys, cimage.UnparsedInstance(src, nil))
	if err != nil {
		return err
	}
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return err
	}
	if cfg.OS != s.opts.OS || cfg.Architecture != s.opts.Arch || (s.opts.Variant != "" && cfg.Variant != s.opts.Variant) {
		have := strings.TrimSuffix(cfg.OS+"/"+cfg.Architecture+"/"+cfg.Variant, "/")
		return &platformError{fmt.Sprintf("the image is for %s and does not match the requested platform %s", have, want)}
	}
	return nil
}

// pullFromTransport handles docker-archive:, oci-archive:, oci:, dir: and
// the like. The image gets the name its source records, as `load` does;
// an image without one is stored by ID only.
func (s *Service) pullFromTransport(ctx context.Context, req PullRequest, transport string) ([]string, error) {
	src, err := alltransports.ParseImageName(req.Ref)
	if err != nil {
		return nil, invalidCause(err, "invalid reference %q: %v", req.Ref, err)
	}
	sys := s.systemContext("", req.TLSVerify)
	within := src.StringWithinTransport()
	path, sub, _ := strings.Cut(within, ":")
	if (transport == "docker-archive" || transport == "oci-archive") && sub == "" {
		// The whole archive, as load reads it: every image in it, under
		// the names it records. A bad archive is described in load's words
		// before the library says something vaguer.
		kind, entries, err := sniffArchive(path, req.Ref)
		if err != nil {
			return nil, err
		}
		var loaded []loadedImage
		switch {
		case transport == "docker-archive" && kind == "docker":
			loaded, err = s.loadDockerArchive(ctx, req.Ref, path, sys, req.Progress)
		case transport == "oci-archive" && len(entries) > 0:
			loaded, err = s.loadOCIArchive(ctx, req.Ref, path, entries, sys, req.Progress)
		default:
			return nil, invalidf("%s: the file is a %s-archive; use %s-archive:%s", req.Ref, kind, kind, path)
		}
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(loaded))
		for _, l := range loaded {
			ids = append(ids, l.id)
		}
		return ids, nil
	}
	var named reference.Named
	if n := src.DockerReference(); n != nil {
		named = reference.TagNameOnly(n)
	}
	if named == nil && (transport == "oci-archive" || transport == "oci") {
		var names []string
		if transport == "oci" {
			if f, err := os.Open(filepath.Join(path, "index.json")); err == nil {
				if entries, err := ociIndexNames(io.LimitReader(f, maxIndexJSON), sub); err == nil {
					names = entryNames(entries, sub)
				}
				f.Close()
			}
		} else if _, entries, err := sniffArchive(path, req.Ref); err == nil {
			names = entryNames(entries, sub)
		}
		if len(names) == 1 && names[0] != "" {
			named = names2ref(names[0])
		}
	}
	if err := s.checkPlatform(ctx, src, sys); err != nil {
		return nil, sourceError(req.Ref, err)
	}
	id, err := s.copyToStore(ctx, src, named, sys, req.Progress)
	if err != nil {
		return nil, sourceError(req.Ref, err)
	}
	return []string{id}, nil
}

// names2ref parses a name recorded in an archive.
func names2ref(n string) reference.Named {
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return nil
	}
	return reference.TagNameOnly(named)
}

// sourceError words a failure to read a local source (archive, layout,
// directory): the input is named, and a missing file is "no such".
func sourceError(input string, err error) error {
	var ce *classErr
	if errors.As(err, &ce) {
		return err
	}
	var bad *badLayerError
	if errors.As(err, &bad) {
		return invalidCause(err, "%s: %v", input, bad)
	}
	var pe *platformError
	if errors.As(err, &pe) {
		return notFoundf(err, "%s: %s", input, pe.msg)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return notFoundf(err, "%s: no such file or image: %v", input, err)
	}
	return invalidCause(err, "%s is not a usable image source: %v", input, err)
}

// registryError words a registry failure: the reference first, then what
// went wrong in the user's terms, with the library's detail last.
func registryError(named reference.Named, err error) error {
	var ce *classErr
	if errors.As(err, &ce) {
		return err
	}
	var unauth docker.ErrUnauthorizedForCredentials
	var ec errcode.Error
	var pe *platformError
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pe):
		return notFoundf(err, "%s: %s", named, pe.msg)
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return fmt.Errorf("%s: cannot reach the registry %s: %w", named, reference.Domain(named), err)
	case errors.As(err, &unauth):
		return fmt.Errorf("%s: authentication failed: the registry refused the credentials (run cove login %s): %w", named, reference.Domain(named), err)
	case errors.As(err, &ec) && ec.Code == errcode.ErrorCodeUnauthorized:
		if hasCredentials(reference.Domain(named)) {
			// A registry with plain basic auth answers a wrong password
			// with the same 401 as no password at all.
			return fmt.Errorf("%s: authentication failed: the registry refused the stored credentials for %s (run cove login %s): %w", named, reference.Domain(named), reference.Domain(named), err)
		}
		return fmt.Errorf("%s: authentication required (run cove login %s): %w", named, reference.Domain(named), err)
	case errors.As(err, &ec) && (ec.Code == v2.ErrorCodeManifestUnknown || ec.Code == v2.ErrorCodeNameUnknown):
		return notFoundf(err, "no such image: %s (%s)", named, ec.Message)
	case errors.As(err, &ec) && ec.Code == errcode.ErrorCodeDenied:
		return notFoundf(err, "no such image: %s, or access denied (run cove login %s if it is private): %v", named, reference.Domain(named), ec.Message)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s: the registry speaks plain HTTP: use --tls-verify=false or mark it insecure in registries.conf: %w", named, err)
	case strings.Contains(err.Error(), "manifest unknown"):
		return notFoundf(err, "no such image: %s (manifest unknown)", named)
	}
	return fmt.Errorf("%s: %w", named, err)
}

// reasonOf strips the library's repeated "invalid reference format" prefix.
func reasonOf(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "invalid reference format: ")
	if msg == "invalid reference format" {
		return "not a valid image name"
	}
	return msg
}
