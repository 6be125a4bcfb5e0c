package logs

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The option rule: 0 is the default, -1 is off where the field has an off, any other negative value
// is an *OptionError naming the field, returned before any I/O.
func TestOptionRule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opt     Options
		field   string // "" for no error
		check   func(o Options) bool
		comment string
	}{
		{name: "zero gives the defaults", check: func(o Options) bool {
			return o.BatchLines == defaultBatchLines && o.MaxLineBytes == defaultMaxLineBytes && o.MaxBatchBytes == defaultMaxBatchBytes
		}},
		{name: "BatchLines -1 is no count limit", opt: Options{BatchLines: -1}, check: func(o Options) bool { return o.BatchLines == -1 }},
		{name: "BatchLines -2", opt: Options{BatchLines: -2}, field: "BatchLines"},
		{name: "MaxLineBytes -1 cannot be off", opt: Options{MaxLineBytes: -1}, field: "MaxLineBytes"},
		{name: "MaxLineBytes -2", opt: Options{MaxLineBytes: -2}, field: "MaxLineBytes"},
		{name: "MaxBatchBytes -1 cannot be off", opt: Options{MaxBatchBytes: -1}, field: "MaxBatchBytes"},
		{name: "MaxBatchBytes -2", opt: Options{MaxBatchBytes: -2}, field: "MaxBatchBytes"},
		{name: "Durable off by default, Timeout 1 s", check: func(o Options) bool {
			return !o.Durable.On() && o.Durable.Timeout == time.Second
		}},
		{name: "Durable.Replicas -1 is off", opt: Options{Durable: Durability{Replicas: -1}}, check: func(o Options) bool { return !o.Durable.On() }},
		{name: "Durable.Replicas 2, Timeout -1 until ctx ends", opt: Options{Durable: Durability{Replicas: 2, Timeout: -1}}, check: func(o Options) bool {
			return o.Durable.On() && o.Durable.Replicas == 2 && o.Durable.Timeout == -1
		}},
		{name: "Durable.Replicas -2", opt: Options{Durable: Durability{Replicas: -2}}, field: "Durable.Replicas"},
		{name: "Durable.Timeout -2ns", opt: Options{Durable: Durability{Replicas: 1, Timeout: -2}}, field: "Durable.Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opt
			err := o.init()
			if tc.field == "" {
				if err != nil || !tc.check(o) {
					t.Fatalf("init: %v, %+v", err, o)
				}
				return
			}
			checkOptionError(t, err, tc.field)
			// ProcessLogs refuses it before any I/O: with the server gone, the error is still the option's.
			m, c := newMini(t)
			m.Close()
			opt := tc.opt
			_, err = ProcessLogs(context.Background(), c, t.TempDir(), record, &opt)
			checkOptionError(t, err, tc.field)
		})
	}
}

func checkOptionError(t *testing.T, err error, field string) {
	t.Helper()
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Type != "logs.Options" || oe.Field != field {
		t.Fatalf("err %v; want an *OptionError naming logs.Options.%s", err, field)
	}
	if !errors.Is(err, ErrBadOption) || !errors.Is(err, ErrBadInput) {
		t.Fatalf("err %v does not match ErrBadOption and ErrBadInput", err)
	}
}

// BatchLines -1: a file is one batch, committed at its end (MaxBatchBytes permitting).
func TestBatchLinesOff(t *testing.T) {
	_, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "1\n2\n3\n4\n5\n", "b": "6\n"})
	res, err := ProcessLogs(context.Background(), c, dir, record, &Options{BatchLines: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commits != 2 || res.Lines != 6 {
		t.Fatalf("got %d commits of %d lines; want 2 commits (one per file) of 6", res.Commits, res.Lines)
	}
}

// Any negative value but -1 is refused for every field, and -1 where the field has no off.
func TestOptionRuleRandomNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fields := []struct {
		name string
		set  func(*Options, int)
		off  bool
	}{
		{"BatchLines", func(o *Options, v int) { o.BatchLines = v }, true},
		{"MaxLineBytes", func(o *Options, v int) { o.MaxLineBytes = v }, false},
		{"MaxBatchBytes", func(o *Options, v int) { o.MaxBatchBytes = v }, false},
		{"Durable.Replicas", func(o *Options, v int) { o.Durable.Replicas = v }, true},
		{"Durable.Timeout", func(o *Options, v int) { o.Durable.Timeout = time.Duration(v) }, true},
	}
	for i := 0; i < 2000; i++ {
		f := fields[r.IntN(len(fields))]
		v := -1 - int(r.Int64N(math.MaxInt64))
		if i%7 == 0 {
			v = -1
		}
		var o Options
		f.set(&o, v)
		err := o.init()
		if v == -1 && f.off {
			if err != nil {
				t.Fatalf("%s=-1: %v", f.name, err)
			}
			continue
		}
		checkOptionError(t, err, f.name)
	}
}
