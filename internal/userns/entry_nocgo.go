//go:build !cgo

package userns

// AdoptConstructorState does nothing without cgo: the pure-Go re-exec in
// userns.go enters the namespace instead.
func AdoptConstructorState() {}
