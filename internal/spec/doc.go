// Package spec turns `docker run` options and an image configuration into
// an OCI runtime spec.
//
// It has two halves. The parsers (ParseVolume, ParseMount, ParseTmpfs,
// ParseEnv, ReadEnvFile, ParseUlimit, ParseDevice, ParseSysctl,
// ParseSecurityOpts, ParseSignal, ...) validate one flag value each and
// return a typed value, or an error of class errdefs.ErrInvalidArgument
// (exit code 125) whose message quotes the offending value and says what is
// wrong with it. Generate then composes an Input made of those values and the
// image's config into a *specs.Spec with Docker's defaults: capabilities,
// masked and read-only paths, default mounts, namespaces.
//
// Generate touches the host in three places only: it reads the container's
// /etc/passwd and /etc/group through ResolveUser (confined to the rootfs),
// it stats the host devices named with --device, and with --privileged it
// lists host /dev. Everything else is pure.
//
// Seccomp is not compiled here: Generate records the policy in the spec's
// annotations (AnnotationSeccomp, AnnotationSeccompProfile) and leaves
// Linux.Seccomp nil; SeccompOf reads the policy back for the engine or the
// runtime, which load the profile through internal/runtime/seccomp.
package spec
