package redistest

import (
	"fmt"
	"os"
	"os/exec"
)

// Installed reports whether the redis-server that Run would start can be found: $RIA_REDIS_SERVER,
// else "redis-server" from PATH. It returns nil, or an error wrapping ErrNotInstalled that says how
// to install it. Examples and tools call it to print that hint instead of failing obscurely.
func Installed() error {
	_, err := lookPath("")
	return err
}

// lookPath resolves exe (default: $RIA_REDIS_SERVER, else "redis-server") to a runnable path.
func lookPath(exe string) (string, error) {
	if exe == "" {
		exe = defaultExecutable()
	}
	bin, err := exec.LookPath(exe)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNotInstalled, err)
	}
	return bin, nil
}

func defaultExecutable() string {
	if e := os.Getenv("RIA_REDIS_SERVER"); e != "" {
		return e
	}
	return "redis-server"
}
