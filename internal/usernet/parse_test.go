package usernet

import (
	"errors"
	"strings"
	"testing"

	"github.com/cove-run/cove/internal/errdefs"
)

func TestParseFiltersNamesWhatAnEmptyLabelNeeds(t *testing.T) {
	for _, raw := range []string{"label=", "label!="} {
		_, err := ParseFilters([]string{raw})
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "needs KEY or KEY=VALUE") || !strings.Contains(err.Error(), `"`+raw+`"`) {
			t.Errorf("%s: %v", raw, err)
		}
	}
	f, err := ParseFilters([]string{"label!=a=b", "label=c"})
	if err != nil || len(f.NotLabels) != 1 || f.NotLabels[0] != "a=b" || f.Labels[0] != "c" {
		t.Fatalf("%+v %v", f, err)
	}
}
