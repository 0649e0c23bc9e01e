package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/tarball"

	"github.com/cove-run/cove/internal/errdefs"
)

// ImportRequest describes `cove import`.
type ImportRequest struct {
	// Path is a (possibly compressed) tar of a root filesystem.
	Path string
	// Input is what errors call it (the path, or "standard input").
	Input string
	// Ref names the new image; empty leaves it unnamed.
	Ref     string
	Changes []string
	Message string
}

// Import creates a one-layer image from a root filesystem tarball.
func (s *Service) Import(ctx context.Context, req ImportRequest) (string, error) {
	if req.Input == "" {
		req.Input = req.Path
	}
	named, err := optionalName(req.Ref)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	cfg := imgspecv1.Image{
		Created:  &now,
		Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH},
	}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := ApplyChanges(&cfg.Config, req.Changes); err != nil {
		return "", err
	}
	comment := req.Message
	if comment == "" {
		comment = "imported from tarball"
	}
	cfg.History = []imgspecv1.History{{Created: &now, CreatedBy: "cove import", Comment: comment}}
	if err := checkTarball(req.Path, req.Input); err != nil {
		return "", err
	}
	ref, err := tarball.NewReference([]string{req.Path}, nil)
	if err != nil {
		return "", invalidCause(err, "import %s: %v", req.Input, err)
	}
	if err := ref.(tarball.ConfigUpdater).ConfigUpdate(cfg, nil); err != nil {
		return "", err
	}
	id, err := s.copyToStore(ctx, ref, named, s.systemContext("", nil), nil)
	if err != nil {
		var bad *badLayerError
		if errors.As(err, &bad) {
			return "", invalidCause(err, "import %s: %v", req.Input, bad)
		}
		return "", invalidCause(err, "import %s: %v", req.Input, err)
	}
	return id, nil
}

// checkTarball refuses what is not a (possibly compressed) tar before
// anything is written, so the message says what is wrong with the input.
func checkTarball(path, input string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFoundf(err, "import %s: no such file", input)
		}
		return invalidCause(err, "import %s: %v", input, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return invalidf("import %s: it is a directory; import takes a tarball", input)
	}
	dr, _, err := compression.AutoDecompress(f)
	if err != nil {
		return invalidCause(err, "import %s: cannot decompress it: %v", input, err)
	}
	defer dr.Close()
	if _, err := tar.NewReader(dr).Next(); err != nil && err != io.EOF {
		return invalidCause(err, "import %s: not a tar archive: %v", input, err)
	}
	return nil
}

// ApplyChanges applies Dockerfile-style instructions (`--change`) to an
// image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME,
// STOPSIGNAL.
func ApplyChanges(c *imgspecv1.ImageConfig, changes []string) error {
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		instr, rest, _ := strings.Cut(ch, " ")
		rest = strings.TrimSpace(rest)
		if rest == "" {
			return errdefs.InvalidArgument("--change %q: %s needs an argument", ch, strings.ToUpper(instr))
		}
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd = commandForm(rest)
		case "ENTRYPOINT":
			c.Entrypoint = commandForm(rest)
		case "ENV":
			kvs, err := keyValues(rest, ch)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				c.Env = setEnv(c.Env, kv[0], kv[1])
			}
		case "LABEL":
			kvs, err := keyValues(rest, ch)
			if err != nil {
				return err
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				c.Labels[kv[0]] = kv[1]
			}
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(rest) {
				ports, err := exposedPorts(p)
				if err != nil {
					return errdefs.InvalidArgument("--change %q: %v", ch, err)
				}
				for _, port := range ports {
					c.ExposedPorts[port] = struct{}{}
				}
			}
		case "USER":
			c.User = rest
		case "WORKDIR":
			if !strings.HasPrefix(rest, "/") {
				rest = "/" + rest
			}
			c.WorkingDir = rest
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			vols := strings.Fields(rest)
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &vols); err != nil {
					return errdefs.InvalidArgument("--change %q: malformed JSON list: %v", ch, err)
				}
			}
			for _, v := range vols {
				if !strings.HasPrefix(v, "/") {
					return errdefs.InvalidArgument("--change %q: volume %q must be an absolute path", ch, v)
				}
				c.Volumes[v] = struct{}{}
			}
		case "STOPSIGNAL":
			c.StopSignal = rest
		default:
			return errdefs.InvalidArgument("--change %q: unsupported instruction %q (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL)", ch, instr)
		}
	}
	return nil
}

// exposedPorts parses an EXPOSE argument: PORT[-PORT][/PROTO].
func exposedPorts(p string) ([]string, error) {
	spec, proto, _ := strings.Cut(p, "/")
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid protocol in port %q (use tcp, udp or sctp)", p)
	}
	loS, hiS, isRange := strings.Cut(spec, "-")
	lo, err := portNumber(loS)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q", p)
	}
	hi := lo
	if isRange {
		if hi, err = portNumber(hiS); err != nil || hi < lo {
			return nil, fmt.Errorf("invalid port range %q", p)
		}
	}
	out := make([]string, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		out = append(out, strconv.Itoa(n)+"/"+proto)
	}
	return out, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return n, nil
}

// commandForm parses the JSON (exec) form, or wraps the shell form in
// /bin/sh -c as Docker does.
func commandForm(s string) []string {
	if strings.HasPrefix(s, "[") {
		var argv []string
		if json.Unmarshal([]byte(s), &argv) == nil {
			return argv
		}
	}
	return []string{"/bin/sh", "-c", s}
}

// keyValues parses "k=v k2=v2" or the legacy "k v".
func keyValues(s, ch string) ([][2]string, error) {
	if !strings.Contains(s, "=") {
		k, v, ok := strings.Cut(s, " ")
		if !ok || k == "" {
			return nil, errdefs.InvalidArgument("--change %q: expected KEY=VALUE", ch)
		}
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, f := range splitQuoted(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, errdefs.InvalidArgument("--change %q: expected KEY=VALUE, got %q", ch, f)
		}
		out = append(out, [2]string{k, strings.Trim(v, `"`)})
	}
	return out, nil
}

// splitQuoted splits on spaces outside double quotes.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	inQ := false
	for _, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
			cur.WriteRune(r)
		case r == ' ' && !inQ:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
