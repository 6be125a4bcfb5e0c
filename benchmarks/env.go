package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/ria-go/ria/redistest"
)

// Mode sets the time a run may take.
type Mode int

const (
	// Full is the default run: under 10 minutes on 2 cores.
	Full Mode = iota
	// Quick is under 2 minutes.
	Quick
	// Smoke proves the program works end to end in seconds; its figures mean nothing.
	Smoke
)

func (m Mode) String() string {
	return [...]string{"full", "quick", "smoke"}[m]
}

// flag is the command-line flag that selects the mode.
func (m Mode) flag() string {
	return [...]string{"", " -quick", " -smoke"}[m]
}

// Pick returns the value for the env's mode.
func Pick[T any](e *Env, full, quick, smoke T) T {
	switch e.Mode {
	case Quick:
		return quick
	case Smoke:
		return smoke
	}
	return full
}

// Env is what a Bench gets: the mode, servers it can start, progress reporting and chart output.
type Env struct {
	Mode    Mode
	Machine Machine
	Dir     string // the report's directory; charts go to Dir/charts

	progress *Progress
	step     string // "[1/2] table4.4", set by run

	mu      sync.Mutex
	servers []*redistest.Server
}

func newEnv(mode Mode, dir string, p *Progress) *Env {
	return &Env{Mode: mode, Dir: dir, progress: p}
}

// Server starts a redis-server that is closed when the current Bench returns.
func (e *Env) Server(ctx context.Context, opt *redistest.Options) (*redistest.Server, error) {
	s, err := redistest.Run(ctx, opt)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
	return s, nil
}

func (e *Env) closeServers() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.servers {
		s.Close()
	}
	e.servers = nil
}

// Progress shows what the bench is doing now, on the one progress line.
func (e *Env) Progress(format string, args ...any) {
	e.progress.Set(e.step + ": " + fmt.Sprintf(format, args...))
}

// Tick counts one unit of work done (a call), shown on the progress line.
func (e *Env) Tick() { e.progress.count.Add(1) }

// chartDir is where charts go, beside the report.
const chartDir = "charts"

// SaveChart writes p as a PNG named name (no extension) and returns its path relative to the report.
func (e *Env) SaveChart(name string, p *plot.Plot, w, h vg.Length) (string, error) {
	rel := filepath.ToSlash(filepath.Join(chartDir, name+".png"))
	if err := p.Save(w, h, filepath.Join(e.Dir, rel)); err != nil {
		return "", fmt.Errorf("chart %s: %w", name, err)
	}
	return rel, nil
}

// Progress is one status line on a terminal, redrawn in place; elsewhere (a log, CI) it prints a line
// per step.
type Progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	count atomic.Int64

	mu    sync.Mutex
	label string
	stop  chan struct{}
	done  bool
}

func newProgress(w io.Writer) *Progress {
	p := &Progress{w: w, start: time.Now(), stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if p.tty {
		go p.redraw()
	}
	return p
}

// Set starts a new step.
func (p *Progress) Set(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.label = label
	p.count.Store(0)
	if p.tty {
		p.drawLocked()
	} else {
		fmt.Fprintf(p.w, "%6.1fs %s\n", time.Since(p.start).Seconds(), label)
	}
}

func (p *Progress) redraw() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if !p.done {
				p.drawLocked()
			}
			p.mu.Unlock()
		}
	}
}

func (p *Progress) drawLocked() {
	line := fmt.Sprintf("%6.1fs %s", time.Since(p.start).Seconds(), p.label)
	if n := p.count.Load(); n > 0 {
		line += fmt.Sprintf(" (%d calls)", n)
	}
	if len(line) > 118 {
		line = line[:118]
	}
	fmt.Fprint(p.w, "\r\x1b[K"+strings.TrimSpace(line))
}

// Done clears the line. It is safe to call more than once.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	close(p.stop)
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
