package spec

import (
	"errors"
	"fmt"
	"strings"
)

// ipcSysctls are the kernel.* sysctls that belong to the IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true,
}

// ParseSysctl parses a --sysctl value, KEY=VALUE, and checks that KEY is
// namespaced, so that setting it cannot affect the host: net.*, fs.mqueue.*,
// kernel.shm*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem and
// kernel.domainname. kernel.hostname is refused in favour of --hostname.
// Whether net.* fits the network mode is checked by Generate.
func ParseSysctl(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", invalid("sysctl %q: expected KEY=VALUE", s)
	}
	if err := checkSysctl(key, value); err != nil {
		return "", "", invalid("sysctl %q: %v", s, err)
	}
	return key, value, nil
}

func checkSysctl(key, value string) error {
	if key == "" {
		return errors.New("empty key")
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" {
			return fmt.Errorf("key %q has an empty component", key)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !isAlnum(c) && c != '_' && c != '-' && c != '@' && c != ':' && c != '+' {
				return fmt.Errorf("key %q contains %q", key, c)
			}
		}
	}
	if strings.ContainsAny(value, "\x00\n") {
		return errors.New("value contains a newline or NUL byte")
	}
	switch {
	case key == "kernel.hostname":
		return errors.New("use --hostname to set the host name")
	case strings.HasPrefix(key, "net."), strings.HasPrefix(key, "fs.mqueue."),
		strings.HasPrefix(key, "kernel.shm"), ipcSysctls[key], key == "kernel.domainname":
		return nil
	}
	return fmt.Errorf("%q is not a namespaced sysctl (allowed: net.*, fs.mqueue.*, kernel.shm*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.domainname)", key)
}
