package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/types"

	"github.com/cove-run/cove/internal/errdefs"
)

// AuthFile is where login writes: $REGISTRY_AUTH_FILE, else the containers
// auth.json under $XDG_CONFIG_HOME, which (unlike podman's default under
// $XDG_RUNTIME_DIR) survives a reboot, as Docker's config.json does.
// Reads also consult $XDG_RUNTIME_DIR/containers/auth.json and Docker's
// ~/.docker/config.json.
func AuthFile() string {
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		return f
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(os.Getenv("HOME"), ".config")
	}
	return filepath.Join(cfg, "containers", "auth.json")
}

// NormalizeRegistry turns what users type after login (a host, a URL,
// docker.io's aliases) into the key the auth file uses.
func NormalizeRegistry(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = strings.TrimSuffix(s, "/")
	if s == "" || s == "index.docker.io" || s == "registry-1.docker.io" || strings.HasPrefix(s, "index.docker.io/v1") {
		s = "docker.io"
	}
	if strings.ContainsAny(s, " \t\n@") {
		return "", errdefs.InvalidArgument("registry %q: not a registry host", s)
	}
	return s, nil
}

// Login checks the credentials against the registry and stores them.
func (s *Service) Login(ctx context.Context, registry, user, pass string, tlsVerify *bool) (string, error) {
	reg, err := NormalizeRegistry(registry)
	if err != nil {
		return "", err
	}
	if user == "" || pass == "" {
		return "", errdefs.InvalidArgument("login to %s: both a username and a password are needed", reg)
	}
	sys := s.systemContext(reg, tlsVerify)
	host := reg
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	if err := docker.CheckAuth(ctx, sys, user, pass, host); err != nil {
		var unauth docker.ErrUnauthorizedForCredentials
		if errors.As(err, &unauth) {
			return "", invalidCause(err, "login to %s as %s failed: wrong username or password (nothing was stored)", reg, user)
		}
		return "", fmt.Errorf("login to %s: %w", reg, err)
	}
	path := AuthFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	sys.AuthFilePath = path
	if _, err := config.SetCredentials(sys, reg, user, pass); err != nil {
		return "", fmt.Errorf("storing credentials for %s in %s: %w", reg, path, err)
	}
	return reg, nil
}

// ErrNotLoggedIn is returned by Logout when there was nothing to remove.
var ErrNotLoggedIn = config.ErrNotLoggedIn

// logoutFiles are the auth files logout edits: the one login writes and,
// unless REGISTRY_AUTH_FILE names a single file, podman's login file under
// $XDG_RUNTIME_DIR, which pulls read first: a logout that left it would
// leave the user logged in.
func logoutFiles() []string {
	files := []string{AuthFile()}
	if os.Getenv("REGISTRY_AUTH_FILE") == "" {
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			files = append(files, filepath.Join(rt, "containers", "auth.json"))
		}
	}
	return files
}

// Logout removes stored credentials for a registry from the containers
// auth files. Docker's config.json is only read: when the credentials that
// pulls would use still come from there, Logout says so (exit 125
// naming the file) instead of claiming a logout.
func (s *Service) Logout(registry string) (string, error) {
	reg, err := NormalizeRegistry(registry)
	if err != nil {
		return "", err
	}
	removed := false
	for _, path := range logoutFiles() {
		sys := s.systemContext(reg, nil)
		sys.AuthFilePath = path
		err := config.RemoveAuthentication(sys, reg)
		switch {
		case err == nil:
			removed = true
		case errors.Is(err, config.ErrNotLoggedIn), errors.Is(err, os.ErrNotExist):
		default:
			return "", fmt.Errorf("logout from %s (%s): %w", reg, path, err)
		}
	}
	if os.Getenv("REGISTRY_AUTH_FILE") == "" {
		if path := dockerConfigWith(reg); path != "" {
			return reg, invalidf("logout from %s: credentials for %s remain in %s, which cove reads but does not change; remove them with docker logout %s", reg, reg, path, reg)
		}
	}
	if !removed {
		return reg, ErrNotLoggedIn
	}
	return reg, nil
}

// dockerConfigWith returns Docker's config.json ($DOCKER_CONFIG, else
// ~/.docker) when it holds credentials for the registry, else "".
func dockerConfigWith(reg string) string {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		dir = filepath.Join(os.Getenv("HOME"), ".docker")
	}
	path := filepath.Join(dir, "config.json")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	sys := &types.SystemContext{AuthFilePath: path}
	if auth, err := config.GetCredentials(sys, reg); err == nil && (auth.Username != "" || auth.IdentityToken != "") {
		return path
	}
	return ""
}

// hasCredentials reports whether pulls and pushes would send credentials
// for the registry (from any auth file they read).
func hasCredentials(reg string) bool {
	sys := &types.SystemContext{AuthFilePath: os.Getenv("REGISTRY_AUTH_FILE")}
	auth, err := config.GetCredentials(sys, reg)
	return err == nil && (auth.Username != "" || auth.IdentityToken != "")
}
