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

// Logout removes stored credentials for a registry.
func (s *Service) Logout(registry string) (string, error) {
	reg, err := NormalizeRegistry(registry)
	if err != nil {
		return "", err
	}
	sys := s.systemContext(reg, nil)
	sys.AuthFilePath = AuthFile()
	if err := config.RemoveAuthentication(sys, reg); err != nil {
		if errors.Is(err, config.ErrNotLoggedIn) {
			return reg, ErrNotLoggedIn
		}
		return "", fmt.Errorf("logout from %s: %w", reg, err)
	}
	return reg, nil
}
