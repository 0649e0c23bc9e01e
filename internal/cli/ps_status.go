package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
	"github.com/cove-run/cove/internal/state"
)

// statusText renders Docker's STATUS column.
func statusText(c engine.ContainerSummary) string {
	s := c.State
	switch s.Status {
	case state.Running:
		txt := "Up " + units.HumanDuration(time.Since(s.StartedAt))
		if s.Health != nil && s.Health.Status != "" {
			// Docker's words: (healthy), (unhealthy), (health: starting).
			if s.Health.Status == engine.HealthStarting {
				txt += " (health: starting)"
			} else {
				txt += " (" + s.Health.Status + ")"
			}
		}
		return txt
	case state.Paused:
		return "Up " + units.HumanDuration(time.Since(s.StartedAt)) + " (Paused)"
	case state.Exited:
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(time.Since(s.FinishedAt)))
	case state.Created:
		return "Created"
	case state.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(time.Since(s.FinishedAt)))
	case state.Removing:
		return "Removal In Progress"
	case state.Dead:
		return "Dead"
	}
	return string(s.Status)
}

// psFilter is a parsed set of ps --filter values; values of one key are
// ORed, different keys ANDed, as in Docker.
type psFilter struct {
	by     map[string][]string
	before *time.Time
	since  *time.Time
}

func parsePsFilters(e *engine.Engine, raw []string) (*psFilter, error) {
	pf := &psFilter{by: map[string][]string{}}
	for _, r := range raw {
		k, v, ok := strings.Cut(r, "=")
		if !ok {
			return nil, errdefs.InvalidArgument("filter %q: expected KEY=VALUE", r)
		}
		switch k {
		case "id", "name", "label", "ancestor", "volume", "network":
		case "health":
			switch v {
			case engine.HealthStarting, engine.HealthHealthy, engine.HealthUnhealthy, engine.HealthNone:
			default:
				return nil, errdefs.InvalidArgument("filter %q: health is one of starting, healthy, unhealthy, none", r)
			}
		case "status":
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return nil, errdefs.InvalidArgument("filter %q: status is one of created, restarting, running, removing, paused, exited, dead", r)
			}
		case "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, errdefs.InvalidArgument("filter %q: exited takes an exit code", r)
			}
		case "before", "since":
			in, err := e.InspectContainer(v)
			if err != nil {
				return nil, fmt.Errorf("filter %q: %w", r, err)
			}
			t, _ := time.Parse(time.RFC3339Nano, in.Created)
			if k == "before" {
				pf.before = &t
			} else {
				pf.since = &t
			}
			continue
		default:
			return nil, errdefs.InvalidArgument("filter %q: unknown filter %q", r, k)
		}
		pf.by[k] = append(pf.by[k], v)
	}
	return pf, nil
}

func (pf *psFilter) match(c engine.ContainerSummary) bool {
	for k, vals := range pf.by {
		ok := false
		for _, v := range vals {
			switch k {
			case "id":
				ok = ok || strings.HasPrefix(c.ID, v)
			case "name":
				ok = ok || strings.Contains(c.Name, v)
			case "label":
				lk, lv, withV := strings.Cut(v, "=")
				got, has := c.Labels[lk]
				ok = ok || (has && (!withV || got == lv))
			case "status":
				ok = ok || string(c.State.Status) == v
			case "exited":
				n, _ := strconv.Atoi(v)
				ok = ok || (c.State.Status == state.Exited && c.State.ExitCode == n)
			case "ancestor":
				ok = ok || c.Image == v || familiarName(c.Image) == familiarName(v) || strings.HasPrefix(c.ImageID, strings.TrimPrefix(v, "sha256:"))
			case "volume":
				// Docker's: a volume name or bind source, or a mount's
				// destination in the container.
				for _, m := range c.Mounts {
					ok = ok || (m.Source != "" && m.Source == v) || m.Destination == v
				}
			case "network":
				// Docker matches a network's name (or, here, a mode).
				ok = ok || slices.Contains(c.Networks, v)
			case "health":
				h := engine.HealthNone
				if c.State.Health != nil {
					h = c.State.Health.Status
				}
				ok = ok || h == v
			}
		}
		if !ok {
			return false
		}
	}
	if pf.before != nil && !c.Created.Before(*pf.before) {
		return false
	}
	if pf.since != nil && !c.Created.After(*pf.since) {
		return false
	}
	return true
}
