package option

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var errPkg = errors.New("pkg: bad input")

func TestFill(t *testing.T) {
	of := Of{Type: "pkg.Options", Also: errPkg}
	for _, tc := range []struct {
		name    string
		v       int
		off     bool
		want    int
		wantErr bool
	}{
		{"zero gives the default", 0, false, 7, false},
		{"positive kept", 3, false, 3, false},
		{"minus one is off", -1, true, -1, false},
		{"minus one without off", -1, false, -1, true},
		{"minus two", -2, true, -2, true},
		{"min int", math.MinInt, true, math.MinInt, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			err := Fill(of, "Field", &v, 7, tc.off)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Fill(%d) error %v; want error %v", tc.v, err, tc.wantErr)
			}
			if v != tc.want {
				t.Errorf("Fill(%d) left %d; want %d", tc.v, v, tc.want)
			}
			if err == nil {
				return
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Type != "pkg.Options" || oe.Field != "Field" {
				t.Fatalf("error %v (%T) does not name pkg.Options.Field", err, err)
			}
			if !errors.Is(err, ErrBadOption) || !errors.Is(err, errPkg) {
				t.Errorf("error %v does not match ErrBadOption and the package's sentinel", err)
			}
			if !strings.Contains(err.Error(), "pkg.Options.Field") {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestFillDuration(t *testing.T) {
	d := -2 * time.Second
	err := Fill(Of{Type: "p.Options"}, "Timeout", &d, time.Second, true)
	if err == nil || !strings.Contains(err.Error(), "-2s") {
		t.Fatalf("got %v; want an error naming -2s", err)
	}
	if errs := err.(*Error).Unwrap(); len(errs) != 1 {
		t.Errorf("without Also the error unwraps to %v; want ErrBadOption alone", errs)
	}
	d = 0
	if err := Fill(Of{Type: "p.Options"}, "Timeout", &d, time.Second, true); err != nil || d != time.Second {
		t.Errorf("0 gave %v, %v; want 1s, nil", d, err)
	}
}

// Every negative value but -1 is refused, whatever the field allows; -1 only where off is allowed.
func TestFillRandomNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		v := -1 - r.Int64N(math.MaxInt64) // in [MinInt64, -1]
		off := r.IntN(2) == 0
		got := v
		err := Fill(Of{Type: "p.Options"}, "N", &got, 5, off)
		if got != v {
			t.Fatalf("Fill(%d) changed it to %d", v, got)
		}
		if want := !(v == -1 && off); (err != nil) != want || err != nil && !errors.Is(err, ErrBadOption) {
			t.Fatalf("Fill(%d, off %v) = %v; want error %v matching ErrBadOption", v, off, err, want)
		}
	}
}

// Join gives nil, the one error itself, or the join of several: a single refusal keeps its type.
func TestJoin(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	if err := Join(nil, nil); err != nil {
		t.Errorf("Join(nil, nil) = %v", err)
	}
	if err := Join(nil, a, nil); err != a {
		t.Errorf("Join(nil, a, nil) = %#v; want a itself", err)
	}
	if err := Join(a, nil, b); !errors.Is(err, a) || !errors.Is(err, b) || err == a || err == b {
		t.Errorf("Join(a, nil, b) = %v; want both", err)
	}
}
