package spec

import (
	"reflect"
	"testing"
	"time"
)

func TestParseHealthOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   HealthOptions
		want *Healthcheck
		bad  string // a substring of the error; "" means accepted
	}{
		{name: "unset", in: HealthOptions{}, want: nil},
		{name: "cmd", in: HealthOptions{Cmd: "curl -f localhost"}, want: &Healthcheck{Test: []string{"CMD-SHELL", "curl -f localhost"}}},
		{name: "all", in: HealthOptions{Cmd: "true", Interval: "2s", Timeout: "1m", StartPeriod: "500ms", StartInterval: "1s", Retries: 7},
			want: &Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: 2 * time.Second, Timeout: time.Minute, StartPeriod: 500 * time.Millisecond, StartInterval: time.Second, Retries: 7}},
		{name: "timing only keeps the image's test", in: HealthOptions{Interval: "5s"}, want: &Healthcheck{Interval: 5 * time.Second}},
		{name: "none", in: HealthOptions{None: true}, want: &Healthcheck{Test: []string{"NONE"}}},
		{name: "zero is the default", in: HealthOptions{Cmd: "x", Interval: "0s"}, want: &Healthcheck{Test: []string{"CMD-SHELL", "x"}}},
		{name: "none conflicts", in: HealthOptions{None: true, Cmd: "true"}, bad: "--no-healthcheck conflicts"},
		{name: "negative retries", in: HealthOptions{Cmd: "x", Retries: -1}, bad: "--health-retries -1"},
		{name: "not a duration", in: HealthOptions{Interval: "10"}, bad: `--health-interval "10"`},
		{name: "negative", in: HealthOptions{Timeout: "-1s"}, bad: `--health-timeout "-1s"`},
		{name: "too small", in: HealthOptions{StartPeriod: "10us"}, bad: `--health-start-period "10us"`},
		{name: "garbage", in: HealthOptions{StartInterval: "soon"}, bad: `--health-start-interval "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHealthOptions(tc.in)
			if tc.bad != "" {
				checkRejected(t, err, tc.bad)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMergeHealthcheck(t *testing.T) {
	img := &Healthcheck{Test: []string{"CMD", "/bin/check"}, Interval: time.Minute, Timeout: 3 * time.Second, Retries: 5}
	if got := MergeHealthcheck(nil, nil); got != nil {
		t.Fatalf("no healthcheck anywhere: got %+v", got)
	}
	if got := MergeHealthcheck(nil, img); !reflect.DeepEqual(got, img) || got == img {
		t.Fatalf("image only: got %+v (must be a copy)", got)
	}
	got := MergeHealthcheck(&Healthcheck{Interval: time.Second}, img)
	want := &Healthcheck{Test: []string{"CMD", "/bin/check"}, Interval: time.Second, Timeout: 3 * time.Second, Retries: 5}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timing flags over the image: got %+v, want %+v", got, want)
	}
	got = MergeHealthcheck(&Healthcheck{Test: []string{"NONE"}}, img)
	if got.Enabled() {
		t.Fatalf("--no-healthcheck over an image healthcheck is enabled: %+v", got)
	}
	got = MergeHealthcheck(&Healthcheck{Interval: time.Second}, nil)
	if got.Enabled() {
		t.Fatalf("timing flags without any test are enabled: %+v", got)
	}
}

func TestHealthcheckArgs(t *testing.T) {
	sh, err := (&Healthcheck{Test: []string{"CMD-SHELL", "echo hi && true"}}).Args()
	if err != nil || !reflect.DeepEqual(sh, []string{"/bin/sh", "-c", "echo hi && true"}) {
		t.Fatalf("CMD-SHELL: %q %v", sh, err)
	}
	ex, err := (&Healthcheck{Test: []string{"CMD", "/bin/check", "--quick"}}).Args()
	if err != nil || !reflect.DeepEqual(ex, []string{"/bin/check", "--quick"}) {
		t.Fatalf("CMD: %q %v", ex, err)
	}
	for _, h := range []*Healthcheck{nil, {}, {Test: []string{"NONE"}}, {Test: []string{"CMD"}}} {
		if _, err := h.Args(); err == nil {
			t.Fatalf("%+v: no error", h)
		}
	}
	i, to, sp, si, r := (&Healthcheck{}).Effective()
	if i != 30*time.Second || to != 30*time.Second || sp != 0 || si != 5*time.Second || r != 3 {
		t.Fatalf("defaults: %v %v %v %v %d", i, to, sp, si, r)
	}
}

func TestValidateHealthcheck(t *testing.T) {
	for _, h := range []*Healthcheck{
		{Test: []string{"WHAT", "x"}},
		{Test: []string{"CMD"}},
		{Test: []string{"CMD-SHELL", "a", "b"}},
		{Test: []string{"CMD", "x"}, Retries: -2},
		{Test: []string{"CMD", "x"}, Interval: time.Microsecond},
	} {
		checkRejected(t, ValidateHealthcheck(h, "the image's"), "the image's")
	}
	for _, h := range []*Healthcheck{nil, {}, {Test: []string{"NONE"}}, {Test: []string{"CMD", "x"}, Interval: time.Second}} {
		if err := ValidateHealthcheck(h, "x"); err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
	}
}

func FuzzParseHealthOptions(f *testing.F) {
	f.Add("true", "30s", "5s", "0s", "", 3, false)
	f.Add("", "1m30s", "", "10s", "1s", 0, false)
	f.Add("", "", "", "", "", 0, true)
	f.Add("x", "-1s", "1us", "soon", "", -1, true)
	f.Fuzz(func(t *testing.T, cmd, interval, timeout, startPeriod, startInterval string, retries int, none bool) {
		in := HealthOptions{Cmd: cmd, Interval: interval, Timeout: timeout, StartPeriod: startPeriod, StartInterval: startInterval, Retries: retries, None: none}
		h, err := ParseHealthOptions(in)
		if err != nil {
			checkRejected(t, err, "health")
			return
		}
		if h == nil {
			if cmd != "" || interval != "" || timeout != "" || startPeriod != "" || startInterval != "" || retries != 0 || none {
				t.Fatalf("%+v: accepted as unset", in)
			}
			return
		}
		// Whatever the flags accept is a valid healthcheck.
		if err := ValidateHealthcheck(h, "flags'"); err != nil {
			t.Fatalf("%+v: accepted %+v does not validate: %v", in, h, err)
		}
		if cmd != "" && !none && !h.Enabled() {
			t.Fatalf("%+v: --health-cmd gave a disabled healthcheck %+v", in, h)
		}
		if none && h.Enabled() {
			t.Fatalf("%+v: --no-healthcheck gave an enabled healthcheck", in)
		}
	})
}
