//go:build !cgo

package userns

import "errors"

// AdoptConstructorState does nothing without cgo: the pure-Go re-exec in
// userns.go enters the namespace instead.
func AdoptConstructorState() {}

// CanDetach is false without the C constructor.
func CanDetach() bool { return false }

// Detach is impossible without the C constructor.
func Detach(code int) error { return errors.New("no caller to detach from") }
