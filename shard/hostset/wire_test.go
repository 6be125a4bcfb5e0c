package hostset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// wireCapture is a go-redis client whose connections are in-memory pipes to a RESP reader, which
// records every command's arguments as the bytes the client wrote and answers +OK.
type wireCapture struct {
	mu   sync.Mutex
	cmds [][]string
}

func newWireClient(t testing.TB) (*redis.Client, *wireCapture) {
	t.Helper()
	w := &wireCapture{}
	c := redis.NewClient(&redis.Options{
		Addr:            "wire-capture",
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			a, b := net.Pipe()
			go w.serve(b)
			return a, nil
		},
	})
	t.Cleanup(func() { c.Close() })
	return c, w
}

func (w *wireCapture) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		reply := "+OK\r\n"
		if len(args) > 0 && strings.EqualFold(args[0], "hello") {
			reply = "-ERR unknown command 'HELLO'\r\n" // go-redis falls back to RESP2
		} else {
			w.mu.Lock()
			w.cmds = append(w.cmds, args)
			w.mu.Unlock()
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// last returns the arguments of the last command received.
func (w *wireCapture) last() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.cmds) == 0 {
		return nil
	}
	return w.cmds[len(w.cmds)-1]
}

func (w *wireCapture) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.cmds)
}

// readCommand parses one RESP array of bulk strings, as clients send commands.
func readCommand(r *bufio.Reader) ([]string, error) {
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if !strings.HasSuffix(s, "\r\n") {
			return "", fmt.Errorf("line %q not ended by CRLF", s)
		}
		return s[:len(s)-2], nil
	}
	head, err := line()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(head, "*") {
		return nil, fmt.Errorf("want an array, got %q", head)
	}
	n, err := strconv.Atoi(head[1:])
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		h, err := line()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(h, "$") {
			return nil, fmt.Errorf("want a bulk string, got %q", h)
		}
		size, err := strconv.Atoi(h[1:])
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if string(buf[size:]) != "\r\n" {
			return nil, fmt.Errorf("bulk string not ended by CRLF")
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// binBlob is a custom encoding.BinaryMarshaler.
type binBlob struct{ b []byte }

func (b binBlob) MarshalBinary() ([]byte, error) { return b.b, nil }

// failingMarshaler is a BinaryMarshaler whose encoding fails.
type failingMarshaler struct{}

func (failingMarshaler) MarshalBinary() ([]byte, error) { return nil, errors.New("cannot encode") }

type namedString string

func randBytes(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var specialFloats = []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e21, 1e-7,
	-1e21, 1e300, -1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.5, 123456789.125, 1e20, 1e-6}

// randArg returns a value of a type go-redis writes, chosen at random.
func randArg(r *rand.Rand) any {
	f64 := func() float64 {
		if r.IntN(2) == 0 {
			return specialFloats[r.IntN(len(specialFloats))]
		}
		return math.Float64frombits(r.Uint64())
	}
	switch r.IntN(40) {
	case 0:
		return nil
	case 1:
		return string(randBytes(r, 40))
	case 2:
		s := string(randBytes(r, 10))
		return &s
	case 3:
		return randBytes(r, 40)
	case 4:
		return int(r.Uint64())
	case 5:
		return int8(r.Uint32())
	case 6:
		return int16(r.Uint32())
	case 7:
		return int32(r.Uint32())
	case 8:
		return int64(r.Uint64())
	case 9:
		v := int64(r.Uint64())
		return &v
	case 10:
		v := int8(r.Uint32())
		return &v
	case 11:
		return uint(r.Uint64())
	case 12:
		return uint8(r.Uint32())
	case 13:
		return uint16(r.Uint32())
	case 14:
		return uint32(r.Uint32())
	case 15:
		return r.Uint64()
	case 16:
		return uintptr(r.Uint64())
	case 17:
		v := uint32(r.Uint32())
		return &v
	case 18:
		return f64()
	case 19:
		return float32(f64())
	case 20:
		return math.Float32frombits(r.Uint32())
	case 21:
		v := f64()
		return &v
	case 22:
		v := float32(f64())
		return &v
	case 23:
		return r.IntN(2) == 0
	case 24:
		v := r.IntN(2) == 0
		return &v
	case 25:
		zone := time.FixedZone("z", (r.IntN(48)-24)*1800)
		if r.IntN(3) == 0 {
			zone = time.UTC
		}
		return time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(zone)
	case 26:
		v := time.Unix(r.Int64N(1<<33), r.Int64N(1e9))
		return &v
	case 27:
		return time.Duration(r.Uint64())
	case 28:
		v := time.Duration(r.Int64N(1e12))
		return &v
	case 29:
		var u uuid.UUID
		for i := range u {
			u[i] = byte(r.Uint32())
		}
		return u
	case 30:
		return binBlob{randBytes(r, 30)}
	case 31:
		b := make([]byte, 4+12*r.IntN(2))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return net.IP(b)
	case 32:
		return (*int)(nil)
	case 33:
		return (*string)(nil)
	case 34:
		return (*bool)(nil)
	case 35:
		return (*float64)(nil)
	case 36:
		return (*time.Time)(nil)
	case 37:
		return (*time.Duration)(nil)
	case 38:
		return (*uint64)(nil)
	default:
		v := r.Int()
		return &v
	}
}

// TestWireArgMatchesGoRedis is a property test against go-redis's own encoding: for random values of
// every type go-redis accepts, wireArg gives exactly the bytes a real client writes, and for types
// it refuses, wireArg refuses with go-redis's message.
func TestWireArgMatchesGoRedis(t *testing.T) {
	ctx := t.Context()
	c, w := newWireClient(t)
	state := uint64(time.Now().UnixNano())
	t.Logf("rand.NewPCG(%d, ...)", state)
	r := rand.New(rand.NewPCG(state, 7))
	for i := 0; i < 1500; i++ {
		v := randArg(r)
		if err := c.Do(ctx, "echo", v).Err(); err != nil {
			t.Fatalf("go-redis refused %T %#v: %v", v, v, err)
		}
		sent := w.last()
		got, err := wireArg(v)
		if err != nil || len(sent) != 2 || got != sent[1] {
			t.Fatalf("wireArg(%T %#v) = %q, %v; go-redis wrote %q", v, v, got, err, sent)
		}
	}
	// go-redis's refusals: wireArg refuses the same values, with the same message.
	before := w.count()
	for _, v := range []any{namedString("k"), struct{}{}, []string{"a"}, map[string]string{}, make(chan int),
		[]any{"a"}, complex(1, 2), failingMarshaler{}, &struct{}{}, []int{1}} {
		gerr := c.Do(ctx, "echo", v).Err()
		_, err := wireArg(v)
		if gerr == nil || err == nil || err.Error() != gerr.Error() {
			t.Errorf("%T: wireArg error %v; go-redis error %v; want the same refusal", v, err, gerr)
		}
	}
	if w.count() != before {
		t.Errorf("go-redis sent %d refused commands", w.count()-before)
	}
	// A nil pointer whose MarshalBinary has a value receiver: go-redis would panic; wireArg refuses.
	if _, err := wireArg((*uuid.UUID)(nil)); err == nil {
		t.Error("wireArg((*uuid.UUID)(nil)) accepted")
	}
}

// FuzzWireArg: for values built from fuzzed bits, wireArg gives the bytes a real go-redis client
// writes.
func FuzzWireArg(f *testing.F) {
	f.Add(uint8(0), uint64(0), "")
	f.Add(uint8(3), math.Float64bits(1e21), "k")
	f.Add(uint8(4), math.Float64bits(1e-7), "\xff")
	f.Add(uint8(9), uint64(90*time.Second), "")
	c, w := newWireClient(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, kind uint8, bits uint64, s string) {
		var v any
		switch kind % 14 {
		case 0:
			v = s
		case 1:
			v = []byte(s)
		case 2:
			v = int64(bits)
		case 3:
			v = math.Float64frombits(bits)
		case 4:
			v = float32(math.Float64frombits(bits))
		case 5:
			v = math.Float32frombits(uint32(bits))
		case 6:
			v = bits
		case 7:
			v = int8(bits)
		case 8:
			v = bits&1 == 1
		case 9:
			v = time.Duration(bits)
		case 10:
			v = time.Unix(int64(bits%(1<<40))-1<<39, int64(bits%1e9)).UTC()
		case 11:
			v = net.IP(s)
		case 12:
			v = binBlob{[]byte(s)}
		case 13:
			var u uuid.UUID
			copy(u[:], s)
			v = u
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.Do(ctx, "echo", v).Err(); err != nil {
			t.Fatalf("go-redis: %T %v: %v", v, v, err)
		}
		sent := w.last()
		got, err := wireArg(v)
		if err != nil || len(sent) != 2 || got != sent[1] {
			t.Fatalf("wireArg(%T %#v) = %q, %v; go-redis wrote %q", v, v, got, err, sent)
		}
	})
}
