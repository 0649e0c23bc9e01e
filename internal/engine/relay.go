package engine

import "syscall"

// RelaySignal is the real-time signal a container's supervisor (its
// monitor, or the foreground cove run) takes as "deliver the signal named
// in DIR/relay.sig to the container". A cove process in another user
// namespace may not signal a container process that runs as a non-root
// user, but it may signal the supervisor, which runs as the same host user.
const RelaySignal = syscall.Signal(40)
