// Package seccomp compiles OCI/Docker seccomp profiles
// (go.podman.io/common/pkg/seccomp types, used without that package's
// "seccomp" build tag so no libseccomp/cgo is involved) into classic BPF
// programs and installs them with seccomp(2).
//
// The compiler handles the native architecture of the container only: a
// syscall made through another ABI (i386 or x32 on amd64, arm on arm64) gets
// the profile's default action (see Compile for the exception). Names are
// resolved with the tables of github.com/elastic/go-seccomp-bpf/arch (as static
// arrays generated into zsyscalls.go, so that nothing runs at init) plus a
// few fixups; names unknown on the architecture are skipped, as libseccomp
// does.
//
// Typical use in the runtime's init process, right before execve:
//
//	f, err := seccomp.Compile(seccomp.DefaultProfile(), boundingCaps, "")
//	...
//	runtime.LockOSThread()
//	... last setup steps ...
//	if err := seccomp.Load(f, noNewPrivs); err != nil { ... }
//	unix.Exec(...)
package seccomp
