// Package libseccompref builds reference seccomp programs with the system's
// libseccomp (cgo), for the differential test of the parent package. It is
// compiled only with the build tag libseccomp_diff and cgo enabled
// (apt-get install libseccomp-dev); without them the package is empty.
package libseccompref
