package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
)

func titles(cols []topColumn) string {
	var t []string
	for _, c := range cols {
		t = append(t, c.title)
	}
	return strings.Join(t, " ")
}

func TestParseTopArgs(t *testing.T) {
	for args, want := range map[string]string{
		"":                 "UID PID PPID C STIME TTY TIME CMD",
		"-ef":              "UID PID PPID C STIME TTY TIME CMD",
		"aux":              "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND",
		"-o pid,user,args": "PID USER COMMAND",
		"-eo pid=ID,comm":  "ID COMMAND",
		"pid user args":    "PID USER COMMAND",
		"pid,ppid hpid":    "PID PPID HPID",
		"PCPU etime":       "%CPU ELAPSED",
	} {
		var a []string
		if args != "" {
			a = strings.Fields(args)
		}
		cols, err := ParseTopArgs(a)
		if err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		if got := titles(cols); got != want {
			t.Errorf("%q: %q, want %q", args, got, want)
		}
	}
	for _, bad := range []string{"bogus", "-o", "pid -x", ",", "-o ,"} {
		if _, err := ParseTopArgs(strings.Fields(bad)); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: want an invalid-argument error, got %v", bad, err)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	line := "42 (my (odd) cmd) S 1 42 42 34816 42 4194560 100 0 0 0 250 50 0 0 20 5 1 0 12345 2322432 335 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	p, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if p.comm != "my (odd) cmd" || p.hostPpid != 1 || p.state != "S" || p.utime != 250 || p.stime != 50 || p.nice != 5 || p.start != 12345 || p.vszKiB != 2268 {
		t.Errorf("parsed %+v", p)
	}
	if tty(p.ttyNr) != "pts/0" {
		t.Errorf("tty %d = %s", p.ttyNr, tty(p.ttyNr))
	}
	if clock(cpuTime(p)) != "00:00:03" {
		t.Errorf("time %s", clock(cpuTime(p)))
	}
	for _, bad := range []string{"", "42 cmd S", "42 (x) S 1"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestToContainer(t *testing.T) {
	m := [][3]int64{{0, 1001, 1}, {1, 200000, 65536}}
	for host, want := range map[int]int{1001: 0, 200000: 1, 200999: 1000, 5: -1, 265536: -1} {
		if got := toContainer(m, host); got != want {
			t.Errorf("%d: %d, want %d", host, got, want)
		}
	}
}

// FuzzParseTopArgs: any argument list gives columns or an
// invalid-argument error, never a panic or an empty table.
func FuzzParseTopArgs(f *testing.F) {
	for _, s := range []string{"", "-ef", "aux", "-o pid,user", "pid=X user", "bogus", "-o", ",,,", "pid= =x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cols, err := ParseTopArgs(strings.Fields(s))
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if len(cols) == 0 {
			t.Fatalf("%q: no columns", s)
		}
	})
}

// FuzzParseProcStat: malformed stat lines are errors, not panics.
func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 5 100 10 0"))
	f.Add([]byte("1 (a) b) S"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseProcStat(b)
	})
}

func TestCapNamesAndSeccomp(t *testing.T) {
	if got := capNames(0); got != "none" {
		t.Errorf("0: %q", got)
	}
	if got := capNames(^uint64(0)); got != "full" {
		t.Errorf("all: %q", got)
	}
	if got := capNames(1<<0 | 1<<21); got != "CHOWN,SYS_ADMIN" {
		t.Errorf("chown+sys_admin: %q", got)
	}
	if seccompMode(2) != "filter" || seccompMode(0) != "disabled" || seccompMode(1) != "strict" {
		t.Error("seccomp modes")
	}
	p := &procInfo{}
	parseProcStatus([]byte("Uid:\t1\t2\t3\t4\nCapEff:\t0000000000000005\nSeccomp:\t2\nNSpid:\t100\t7\n"), p)
	if p.uids != [2]int{1, 2} || p.caps[2] != 5 || p.seccomp != 2 || p.nsPid != 7 {
		t.Errorf("status: %+v", p)
	}
}
