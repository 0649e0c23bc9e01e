package image

import (
	"encoding/json"
	"errors"
	"path"

	"github.com/cove-run/cove/internal/errdefs"
)

func pathMatch(pattern, s string) (bool, error) { return path.Match(pattern, s) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func errorsIsNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
