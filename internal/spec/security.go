package spec

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SeccompMode says which seccomp filter the container gets.
type SeccompMode string

// Seccomp modes.
const (
	// SeccompDefault is cove's default profile (Docker's), loaded by the
	// runtime through internal/runtime/seccomp. The zero value means this.
	SeccompDefault SeccompMode = "default"
	// SeccompUnconfined installs no filter.
	SeccompUnconfined SeccompMode = "unconfined"
	// SeccompCustom loads the JSON profile at Seccomp.Profile.
	SeccompCustom SeccompMode = "custom"
)

// Seccomp is the seccomp policy of a container.
type Seccomp struct {
	Mode SeccompMode `json:"Mode,omitempty"`
	// Profile is the absolute host path of the JSON profile for
	// SeccompCustom. Docker embeds the profile's content at create time;
	// the engine should likewise copy the file into the container's
	// directory and point Profile at the copy.
	Profile string `json:"Profile,omitempty"`
}

// Spec annotations carrying the seccomp policy from Generate to whoever
// builds the filter. Linux.Seccomp stays nil in generated specs.
const (
	// AnnotationSeccomp holds the SeccompMode.
	AnnotationSeccomp = "run.cove.seccomp"
	// AnnotationSeccompProfile holds the profile path for SeccompCustom.
	AnnotationSeccompProfile = "run.cove.seccomp.profile"
)

// SeccompOf returns the seccomp policy recorded in s by Generate. A spec
// without the annotation gets the default profile.
func SeccompOf(s *specs.Spec) (Seccomp, error) {
	mode := SeccompMode(s.Annotations[AnnotationSeccomp])
	switch mode {
	case "", SeccompDefault:
		return Seccomp{Mode: SeccompDefault}, nil
	case SeccompUnconfined:
		return Seccomp{Mode: SeccompUnconfined}, nil
	case SeccompCustom:
		p := s.Annotations[AnnotationSeccompProfile]
		if p == "" {
			return Seccomp{}, fmt.Errorf("annotation %s=%s without %s", AnnotationSeccomp, mode, AnnotationSeccompProfile)
		}
		return Seccomp{Mode: SeccompCustom, Profile: p}, nil
	}
	return Seccomp{}, fmt.Errorf("unknown %s annotation %q", AnnotationSeccomp, mode)
}

// SecurityOptions are the parsed --security-opt values.
type SecurityOptions struct {
	NoNewPrivileges bool    `json:"NoNewPrivileges,omitempty"`
	Seccomp         Seccomp `json:"Seccomp"`
	// LabelDisable records label=disable; other label=... values are kept
	// in Labels. cove does not apply SELinux labels, so both are no-ops.
	LabelDisable bool     `json:"LabelDisable,omitempty"`
	Labels       []string `json:"Labels,omitempty"`
	// AppArmor is accepted and ignored: cove loads no AppArmor profile.
	AppArmor string `json:"AppArmor,omitempty"`
	// UnmaskSystemPaths (systempaths=unconfined) drops the masked and
	// read-only paths, as Docker.
	UnmaskSystemPaths bool `json:"UnmaskSystemPaths,omitempty"`
}

// ParseSecurityOpts parses --security-opt values:
//
//	no-new-privileges[=true|false]
//	seccomp=unconfined | seccomp=builtin | seccomp=PATH (made absolute)
//	label=disable | label=nested | label=user:U | role:R | type:T | level:L | filetype:F
//	apparmor=PROFILE                (accepted, no effect)
//	systempaths=unconfined
//
// As with Docker, KEY:VALUE is accepted for KEY=VALUE when the option has
// no '='. Anything else is an error naming the option. Later values win.
func ParseSecurityOpts(opts []string) (SecurityOptions, error) {
	var so SecurityOptions
	for _, o := range opts {
		if err := so.set(o); err != nil {
			return SecurityOptions{}, invalid("security option %q: %v", o, err)
		}
	}
	return so, nil
}

func (so *SecurityOptions) set(o string) error {
	key, val, hasVal := strings.Cut(o, "=")
	if !hasVal {
		// Docker's older KEY:VALUE form (no-new-privileges:true).
		key, val, hasVal = strings.Cut(o, ":")
	}
	switch key {
	case "no-new-privileges":
		if !hasVal {
			so.NoNewPrivileges = true
			return nil
		}
		b, err := parseBoolOpt(key, val, true)
		if err != nil {
			return err
		}
		so.NoNewPrivileges = b
		return nil
	case "seccomp", "label", "apparmor", "systempaths":
		if !hasVal || val == "" {
			return fmt.Errorf("%s needs a value", key)
		}
	default:
		return errors.New("unknown option (use no-new-privileges, seccomp=, label=, apparmor= or systempaths=)")
	}
	switch key {
	case "seccomp":
		switch val {
		case "unconfined":
			so.Seccomp = Seccomp{Mode: SeccompUnconfined}
		case "builtin":
			so.Seccomp = Seccomp{Mode: SeccompDefault}
		default:
			if strings.IndexByte(val, 0) >= 0 {
				return errors.New("profile path contains a NUL byte")
			}
			p, err := filepath.Abs(val)
			if err != nil {
				return err
			}
			so.Seccomp = Seccomp{Mode: SeccompCustom, Profile: p}
		}
	case "label":
		switch val {
		case "disable":
			so.LabelDisable = true
		case "nested":
			so.Labels = append(so.Labels, val)
		default:
			k, v, ok := strings.Cut(val, ":")
			switch k {
			case "user", "role", "type", "level", "filetype":
			default:
				return fmt.Errorf("unknown label option %q (use disable, nested, user:, role:, type:, level: or filetype:)", val)
			}
			if !ok || v == "" {
				return fmt.Errorf("label option %q needs a value", val)
			}
			so.Labels = append(so.Labels, val)
		}
	case "apparmor":
		so.AppArmor = val
	case "systempaths":
		if val != "unconfined" {
			return fmt.Errorf("systempaths %q: only \"unconfined\" is supported", val)
		}
		so.UnmaskSystemPaths = true
	}
	return nil
}
