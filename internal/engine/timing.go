package engine

import (
	"fmt"
	"os"
	"time"
)

// phaseTimes is on when COVE_TIMING is set: each phase of run/start then
// prints its time since the process started, for finding where start-up
// time goes (see make bench).
var phaseTimes = os.Getenv("COVE_TIMING") != ""

var processStart = time.Now()

func phase(name string) {
	if phaseTimes {
		fmt.Fprintf(os.Stderr, "cove timing: %-28s %6.2f ms\n", name, float64(time.Since(processStart).Microseconds())/1000)
	}
}
