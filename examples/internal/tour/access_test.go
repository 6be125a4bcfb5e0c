package tour

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// A server that refuses the tour's connection is ErrAccess, saying authentication or permission;
// only a server that has no such database is ErrNoDatabase.
func TestServerRefusalsTellAccessFromNoDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name string
		opt  *redistest.Options
		want error
		says string
	}{
		{"password", &redistest.Options{Password: "tour-secret-pw"}, ErrAccess, "asks for authentication"},
		{"no SELECT", &redistest.Options{Config: []string{"user default on nopass ~* &* +@all -select"}}, ErrAccess, "denies its default user"},
		{"no DBSIZE", &redistest.Options{Config: []string{"user default on nopass ~* &* +@all -dbsize"}}, ErrAccess, "DBSIZE"},
		{"4 databases", &redistest.Options{Config: []string{"databases 4"}}, ErrNoDatabase, "refuses SELECT 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.RunT(t, tc.opt)
			_, err := NewEnv(ctx, &bytes.Buffer{}, Options{Addr: s.Addr()})
			if !errors.Is(err, tc.want) || !strings.Contains(errString(err), tc.says) {
				t.Fatalf("got %v; want %v saying %q", err, tc.want, tc.says)
			}
			if tc.want == ErrAccess && errors.Is(err, ErrNoDatabase) {
				t.Fatalf("a refused connection reported as a missing database: %v", err)
			}
			if strings.Contains(errString(err), "tour-secret-pw") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if ExitCode(err) != 1 {
				t.Fatalf("exit code %d; want 1", ExitCode(err))
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
