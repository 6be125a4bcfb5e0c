package hostset

import (
	"encoding"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// wireArg returns the bytes go-redis v9.23 writes for the argument v (proto.Writer.WriteArg in its
// internal/proto/writer.go), as a string, or go-redis's refusal. Routing reads keys and command names
// through it only, so a key is hashed as the server will see it: float64(1e21) is
// "1000000000000000000000", a uuid.UUID its 16 raw bytes, true "1". Keep the cases and their order
// as go-redis has them: a named type (type ID string) matches none of the basic cases, as in
// go-redis, and is accepted only as an encoding.BinaryMarshaler.
func wireArg(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case *string:
		if v == nil {
			return "", nil
		}
		return *v, nil
	case []byte:
		return string(v), nil
	case int:
		return strconv.FormatInt(int64(v), 10), nil
	case *int:
		return wireInt(v == nil, func() int64 { return int64(*v) }), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case *int8:
		return wireInt(v == nil, func() int64 { return int64(*v) }), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case *int16:
		return wireInt(v == nil, func() int64 { return int64(*v) }), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case *int32:
		return wireInt(v == nil, func() int64 { return int64(*v) }), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case *int64:
		return wireInt(v == nil, func() int64 { return *v }), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case *uint:
		return wireUint(v == nil, func() uint64 { return uint64(*v) }), nil
	case uint8:
		return strconv.FormatUint(uint64(v), 10), nil
	case *uint8:
		return wireUint(v == nil, func() uint64 { return uint64(*v) }), nil
	case uint16:
		return strconv.FormatUint(uint64(v), 10), nil
	case *uint16:
		return wireUint(v == nil, func() uint64 { return uint64(*v) }), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case *uint32:
		return wireUint(v == nil, func() uint64 { return uint64(*v) }), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case *uint64:
		return wireUint(v == nil, func() uint64 { return *v }), nil
	case uintptr:
		return strconv.FormatUint(uint64(v), 10), nil
	case *uintptr:
		return wireUint(v == nil, func() uint64 { return uint64(*v) }), nil
	case float32:
		return wireFloat(float64(v)), nil
	case *float32:
		if v == nil {
			return wireFloat(0), nil
		}
		return wireFloat(float64(*v)), nil
	case float64:
		return wireFloat(v), nil
	case *float64:
		if v == nil {
			return wireFloat(0), nil
		}
		return wireFloat(*v), nil
	case bool:
		return wireBool(v), nil
	case *bool:
		return wireBool(v != nil && *v), nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case *time.Time:
		if v == nil {
			return time.Time{}.Format(time.RFC3339Nano), nil
		}
		return v.Format(time.RFC3339Nano), nil
	case time.Duration:
		return strconv.FormatInt(v.Nanoseconds(), 10), nil
	case *time.Duration:
		if v == nil {
			return "0", nil
		}
		return strconv.FormatInt(v.Nanoseconds(), 10), nil
	case encoding.BinaryMarshaler:
		return marshalBinary(v)
	case net.IP:
		return string(v), nil
	default:
		return "", fmt.Errorf("redis: can't marshal %T (implement encoding.BinaryMarshaler)", v)
	}
}

func wireInt(isNil bool, n func() int64) string {
	if isNil {
		return "0"
	}
	return strconv.FormatInt(n(), 10)
}

func wireUint(isNil bool, n func() uint64) string {
	if isNil {
		return "0"
	}
	return strconv.FormatUint(n(), 10)
}

func wireFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func wireBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// marshalBinary is v.MarshalBinary, with a panic (a nil pointer whose method has a value receiver,
// such as (*uuid.UUID)(nil)) turned into an error: go-redis would panic writing it.
func marshalBinary(v encoding.BinaryMarshaler) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%T.MarshalBinary panicked: %v", v, r)
		}
	}()
	b, err := v.MarshalBinary()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// argString is wireArg for arguments checkArgs has accepted.
func argString(v any) string {
	s, _ := wireArg(v)
	return s
}

// checkArgs returns an *ArgError for the first argument go-redis would refuse to write. go-redis
// fails a whole pipeline when it cannot write one command, so such a command is refused before it
// joins a host's pipeline.
func checkArgs(args []any) error {
	for i, a := range args {
		switch a.(type) {
		case string, []byte:
			continue // the common case, always written
		}
		if _, err := wireArg(a); err != nil {
			name := ""
			if i > 0 {
				name = commandLabel(args)
			}
			return &ArgError{Command: name, Pos: i, Type: fmt.Sprintf("%T", a), Err: err}
		}
	}
	return nil
}

// commandLabel is the lower-case command name of args, "" when it cannot be written.
func commandLabel(args []any) string {
	if len(args) == 0 {
		return ""
	}
	s, err := wireArg(args[0])
	if err != nil {
		return ""
	}
	return strings.ToLower(s)
}
