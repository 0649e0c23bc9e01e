package storage

import (
	"reflect"
	"testing"
)

// TestDriverOptions: storage.conf's options in both of the library's forms
// reach the chosen driver exactly once and with one prefix; other drivers'
// options and mount_program never do.
func TestDriverOptions(t *testing.T) {
	conf := []string{
		"mountopt=nodev",           // [storage.options]
		"overlay.mountopt=noatime", // [storage.options.overlay]
		"overlay2.size=10G",        // the old name of the same driver
		"vfs.ignore_chown_errors=true",
		"btrfs.min_space=1G",
		"imagestore=/srv/images",
		"mount_program=/usr/bin/fuse-overlayfs",
		"overlay.mount_program=/usr/bin/fuse-overlayfs",
		"overlay.force_mask=shared",
	}
	for _, c := range []struct {
		driver string
		want   []string
	}{
		{"overlay", []string{"overlay.mountopt=nodev", "overlay.mountopt=noatime", "overlay2.size=10G", "overlay.imagestore=/srv/images", "overlay.force_mask=shared"}},
		{"vfs", []string{"vfs.ignore_chown_errors=true", "vfs.imagestore=/srv/images"}},
	} {
		if got := driverOptions(c.driver, conf); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.driver, got, c.want)
		}
	}
	if got := driverOptions("overlay", nil); got != nil {
		t.Errorf("no options: %q", got)
	}
}
