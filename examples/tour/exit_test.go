package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/redistest"
)

// The exit codes and messages of bad usage (2), an unreachable server (1) and help (0).
func TestTourExitCodes(t *testing.T) {
	t.Parallel()
	s := redistest.RunT(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	const secret = "pw-Zq81x"
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"-h"}, 0, "exit status: 0 done; 1"},
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"argument", []string{"ch04"}, 2, `unexpected argument "ch04"`},
		{"unknown chapter", []string{"-chapter", "ch04,ch99"}, 2, `no such chapter: "ch99" (the chapters are ch04, ch05, ch09, ch10)`},
		{"no port", []string{"-addr", "127.0.0.1"}, 2, `bad -addr: entry 1 of 1, "127.0.0.1": not host:port`},
		{"bad port", []string{"-addr", s.Addr() + ",127.0.0.1:99999"}, 2, "entry 2 of 2"},
		{"empty entry", []string{"-addr", s.Addr() + ","}, 2, "entry 2 of 2 is empty"},
		{"URL with password", []string{"-addr", "redis://app:" + secret + "@127.0.0.1:6379"}, 2, "names a user or password"},
		{"twice", []string{"-addr", s.Addr() + "," + s.Addr()}, 2, "name one server: " + fmt.Sprintf("%q given twice", s.Addr())},
		{"one server, two names", []string{"-addr", s.Addr() + "," + strings.Replace(s.Addr(), "127.0.0.1", "localhost", 1)}, 2, "name one server: " + s.Addr() + " and localhost"},
		{"timeout", []string{"-timeout", "0s"}, 2, "-timeout 0s: must be positive"},
		{"unreachable", []string{"-addr", closed, "-chapter", "ch05"}, 1, "server " + closed + ": dial tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			code := tour.MainArgs("tour", tc.args, &o, &e, parts...)
			if code != tc.code || !strings.Contains(e.String(), tc.msg) {
				t.Errorf("tour %q: exit %d, stderr %q; want %d and %q", tc.args, code, e.String(), tc.code, tc.msg)
			}
			if strings.Contains(o.String()+e.String(), secret) {
				t.Error("the tour printed a password")
			}
			if tc.code != 0 && strings.Contains(o.String(), "==") {
				t.Errorf("a failed start ran chapters:\n%s", o.String())
			}
		})
	}
}

// A server without databases 1 to 15 is refused before anything is written.
func TestTourServerWithFewDatabases(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.RunT(t, &redistest.Options{Config: []string{"databases 8"}})
	err := tour.Run(ctx, &bytes.Buffer{}, tour.Options{Addr: s.Addr(), Only: "ch05"}, parts...)
	if !errors.Is(err, tour.ErrNoDatabase) || !strings.Contains(err.Error(), "SELECT 8") || tour.ExitCode(err) != 1 {
		t.Errorf("a server with 8 databases: %v (exit %d); want tour.ErrNoDatabase naming SELECT 8, exit 1", err, tour.ExitCode(err))
	}
	c := s.Client(t)
	if n := c.DBSize(ctx).Val(); n != 0 {
		t.Errorf("database 0 holds %d keys", n)
	}
}

// The tour ends when its ctx does, with an error that says so: already cancelled, or a deadline
// while a server does not answer (SIGSTOP).
func TestTourContext(t *testing.T) {
	t.Parallel()
	s := redistest.RunT(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tour.Run(ctx, &bytes.Buffer{}, tour.Options{Addr: s.Addr(), Only: "ch05"}, parts...); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v; want context.Canceled", err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer s.Resume()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := tour.Run(ctx, &bytes.Buffer{}, tour.Options{Addr: s.Addr(), Only: "ch05"}, parts...); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("paused server: %v; want context.DeadlineExceeded", err)
	}
}
