package redistest

// Live resharding and master failure in a Cluster: the server's own slot migration, as
// `redis-cli --cluster reshard` drives it, and a killed master whose replica takes over.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// MoveOptions configure MoveSlot. They follow the option rule: 0 is the default, other negative
// values are ErrInvalid (an *option.Error naming the field).
type MoveOptions struct {
	// Batch is the number of keys per MIGRATE (CLUSTER GETKEYSINSLOT's count).
	// default: 100
	Batch int

	// Pause is the time between two batches, so clients see the slot half moved (ASK, TRYAGAIN).
	// default: none
	Pause time.Duration

	// Timeout is MIGRATE's own timeout for the source's I/O with the target.
	// default: 5 seconds
	Timeout time.Duration

	// Batched, if not nil, is called after each MIGRATE with the keys it moved, before the pause:
	// a test can look at the half-moved slot without guessing when it is. An error stops the move
	// (the slot stays half moved: MIGRATING on the source, IMPORTING on the target).
	Batched func(ctx context.Context, keys []string) error
}

var moveOptionsOf = option.Of{Type: "redistest.MoveOptions", Also: ErrInvalid}

func (o *MoveOptions) fill() error {
	return option.Join(
		option.Fill(moveOptionsOf, "Batch", &o.Batch, 100, false),
		option.Fill(moveOptionsOf, "Pause", &o.Pause, 0, false),
		option.Fill(moveOptionsOf, "Timeout", &o.Timeout, 5*time.Second, false),
	)
}

// SlotError is a slot move that failed at one step; the slot may be left half moved.
type SlotError struct {
	Slot     int
	From, To string // the nodes' addresses
	Step     string // "IMPORTING", "MIGRATING", "GETKEYSINSLOT", "MIGRATE", "NODE", "agree", "Batched"
	Err      error
}

func (e *SlotError) Error() string {
	return fmt.Sprintf("redistest: move slot %d from %s to %s: %s: %v", e.Slot, e.From, e.To, e.Step, e.Err)
}

func (e *SlotError) Unwrap() error { return e.Err }

// MoveSlot moves slot, and the keys in it, to the master to, the way redis-cli's reshard does:
// CLUSTER SETSLOT IMPORTING on the target and MIGRATING on the source, then CLUSTER GETKEYSINSLOT
// and MIGRATE (with AUTH when the cluster has a password) batch by batch until the slot is empty,
// then CLUSTER SETSLOT NODE on the target, the source and the other masters. It returns once every
// running node says the target serves the slot and the replicas of both nodes have caught up with
// them (MIGRATE waits for no replica). Meanwhile clients get ASK for keys already moved and
// TRYAGAIN for multi-key commands whose keys are split.
//
// A slot that to already serves is left alone. A slot or target that cannot work (not 0-16383,
// not a node of c, a replica) is ErrInvalid. A failure part way is a *SlotError and may leave
// the slot half moved. Run one move at a time.
func (c *Cluster) MoveSlot(ctx context.Context, slot int, to *Server, opt *MoveOptions) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	var o MoveOptions
	if opt != nil {
		o = *opt
	}
	if err := o.fill(); err != nil {
		return err
	}
	if slot < 0 || slot >= clusterSlots {
		return fmt.Errorf("%w: slot %d is not in 0-%d", ErrInvalid, slot, clusterSlots-1)
	}
	if err := c.member(to); err != nil {
		return err
	}
	dst := to.NewClient()
	defer dst.Close()
	dstSelf, err := myself(ctx, dst)
	if err != nil {
		return fmt.Errorf("redistest: move slot %d: %s: %w", slot, to.Addr(), err)
	}
	if !dstSelf.master() {
		return fmt.Errorf("%w: move slot %d to %s: it is a replica", ErrInvalid, slot, to.Addr())
	}
	from, srcID, err := c.slotOwner(ctx, slot)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	src := from.NewClient()
	defer src.Close()
	fail := func(step string, err error) error {
		return &SlotError{Slot: slot, From: from.Addr(), To: to.Addr(), Step: step, Err: err}
	}

	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
		return fail("IMPORTING", err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstSelf.id).Err(); err != nil {
		return fail("MIGRATING", err)
	}
	for {
		// A migrating source creates no new key in the slot (it sends ASK), so this ends.
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, o.Batch).Result()
		if err != nil {
			return fail("GETKEYSINSLOT", err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", to.opt.Host, to.Port(), "", 0, o.Timeout.Milliseconds()}
		if c.password != "" {
			args = append(args, "AUTH", c.password)
		}
		args = append(args, "KEYS")
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			return fail("MIGRATE", err)
		}
		if o.Batched != nil {
			if err := o.Batched(ctx, keys); err != nil {
				return fail("Batched", err)
			}
		}
		if o.Pause > 0 {
			if err := sleep(ctx, o.Pause); err != nil {
				return fail("MIGRATE", err)
			}
		}
	}
	// The target first: once it owns the slot, the source's MOVED points at a node that serves it.
	order := []*Server{to, from}
	masters, err := c.Masters(ctx)
	if err != nil {
		return fail("NODE", err)
	}
	for _, m := range masters {
		if m != to && m != from {
			order = append(order, m)
		}
	}
	for _, m := range order {
		cl := m.NewClient()
		err := cl.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstSelf.id).Err()
		cl.Close()
		if err != nil {
			return fail("NODE "+m.Addr(), err)
		}
	}
	if err := c.waitOwner(ctx, slot, dstSelf.id); err != nil {
		return fail("agree", err)
	}
	// MIGRATE does not wait for replicas: without this, a failover of either node right after the
	// move could lose moved keys (on the target) or bring deleted ones back (on the source).
	for _, cl := range []*redis.Client{dst, src} {
		if err := waitReplicated(ctx, cl); err != nil {
			return fail("replicate", err)
		}
	}
	return nil
}

// waitReplicated waits until every replica cl's master lists has its replication offset.
func waitReplicated(ctx context.Context, cl *redis.Client) error {
	info, err := cl.InfoMap(ctx, "replication").Result()
	if err != nil {
		return err
	}
	want, err := strconv.ParseInt(info["Replication"]["master_repl_offset"], 10, 64)
	if err != nil {
		return fmt.Errorf("master_repl_offset: %w", err)
	}
	return poll(ctx, func() error {
		info, err := cl.InfoMap(ctx, "replication").Result()
		if err != nil {
			return err
		}
		for k, v := range info["Replication"] {
			if !strings.HasPrefix(k, "slave") || !strings.Contains(v, "offset=") {
				continue
			}
			for _, kv := range strings.Split(v, ",") {
				if off, ok := strings.CutPrefix(kv, "offset="); ok {
					if n, err := strconv.ParseInt(off, 10, 64); err != nil || n < want {
						return fmt.Errorf("replica %s has offset %s of %d", k, off, want)
					}
				}
			}
		}
		return nil
	})
}

// WaitIdle waits until no running node has a client connection left but replication links, the
// links MIGRATE keeps between nodes, and WaitIdle's own. Called once a test has closed its clients,
// it returns when every command they sent has run or been dropped, so the data no longer changes.
func (c *Cluster) WaitIdle(ctx context.Context) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	return poll(ctx, func() error {
		for _, s := range c.Nodes {
			if !s.Running() {
				continue
			}
			o := s.Options()
			o.PoolSize = 1 // CLIENT ID and CLIENT LIST on one connection
			cl := redis.NewClient(o)
			err := othersGone(ctx, cl)
			cl.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
		}
		return nil
	})
}

func othersGone(ctx context.Context, cl *redis.Client) error {
	id, err := cl.ClientID(ctx).Result()
	if err != nil {
		return err
	}
	list, err := cl.ClientList(ctx).Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		// flags S: a replica's link on its master; M: the master's on its replica.
		if f["id"] == strconv.FormatInt(id, 10) || strings.ContainsAny(f["flags"], "SM") || f["cmd"] == "restore-asking" {
			continue
		}
		return fmt.Errorf("client %s (%s, last command %s) still connected", f["id"], f["addr"], f["cmd"])
	}
	return nil
}

// KillMaster kills m (SIGKILL, as in a crash), waits until one of its replicas has been promoted
// and the cluster is healthy (cluster_state:ok, every slot served), then restarts m and waits until
// it has rejoined as a replica of the promoted node. It returns the promoted node. The wait for the
// promotion is about the cluster's NodeTimeout.
//
// m must be a running master of c that serves slots and has a running replica (else ErrInvalid).
// After an error m may be left down (Restart brings it back).
func (c *Cluster) KillMaster(ctx context.Context, m *Server) (promoted *Server, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := c.member(m); err != nil {
		return nil, err
	}
	cl := m.NewClient()
	view, err := clusterView(ctx, cl)
	cl.Close()
	if err != nil {
		return nil, fmt.Errorf("redistest: kill master %s: %w", m.Addr(), err)
	}
	self := view.self()
	switch {
	case self == nil:
		return nil, fmt.Errorf("redistest: kill master %s: CLUSTER NODES has no myself line", m.Addr())
	case !self.master():
		return nil, fmt.Errorf("%w: kill master %s: it is a replica", ErrInvalid, m.Addr())
	case len(self.slots) == 0:
		return nil, fmt.Errorf("%w: kill master %s: it serves no slot, so no replica would take over", ErrInvalid, m.Addr())
	}
	var replicas []*Server
	for _, n := range view {
		if n.replicaOf == self.id && !n.failed() {
			if s := c.byAddr(n.addr); s != nil && s.Running() {
				replicas = append(replicas, s)
			}
		}
	}
	if len(replicas) == 0 {
		return nil, fmt.Errorf("%w: kill master %s: it has no running replica", ErrInvalid, m.Addr())
	}

	if err := m.Kill(); err != nil {
		return nil, fmt.Errorf("redistest: kill master %s: %w", m.Addr(), err)
	}
	slot := self.slots[0][0]
	if err := poll(ctx, func() error {
		for _, r := range replicas {
			rc := r.NewClient()
			s, err := myself(ctx, rc)
			rc.Close()
			if err == nil && s.master() && s.serves(slot) {
				promoted = r
				return nil
			}
		}
		return fmt.Errorf("no replica of %s serves slot %d yet", m.Addr(), slot)
	}); err != nil {
		return nil, err
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return promoted, err
	}

	if err := m.Restart(ctx); err != nil {
		return promoted, err
	}
	pc := promoted.NewClient()
	pid, err := myself(ctx, pc)
	pc.Close()
	if err != nil {
		return promoted, fmt.Errorf("redistest: %s: %w", promoted.Addr(), err)
	}
	mc := m.NewClient()
	defer mc.Close()
	// Restarted with its old nodes.conf, m claims its slots until the others tell it of the newer
	// epoch; WaitHealthy alone could pass in between.
	if err := poll(ctx, func() error {
		s, err := myself(ctx, mc)
		if err != nil {
			return err
		}
		if s.replicaOf != pid.id {
			return fmt.Errorf("restarted %s is not a replica of %s yet", m.Addr(), promoted.Addr())
		}
		return nil
	}); err != nil {
		return promoted, err
	}
	return promoted, c.WaitHealthy(ctx)
}

// member refuses a server that is not one of c's nodes, or not running.
func (c *Cluster) member(s *Server) error {
	if s == nil || !slices.Contains(c.Nodes, s) {
		return fmt.Errorf("%w: the server is not a node of this cluster", ErrInvalid)
	}
	if !s.Running() {
		return fmt.Errorf("redistest: %s: %w", s.Addr(), ErrNotRunning)
	}
	return nil
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// slotOwner finds the running master that serves slot by its own account.
func (c *Cluster) slotOwner(ctx context.Context, slot int) (*Server, string, error) {
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		cl := s.NewClient()
		self, err := myself(ctx, cl)
		cl.Close()
		if err != nil {
			return nil, "", fmt.Errorf("redistest: owner of slot %d: %s: %w", slot, s.Addr(), err)
		}
		if self.master() && self.serves(slot) {
			return s, self.id, nil
		}
	}
	return nil, "", fmt.Errorf("redistest: no running master serves slot %d", slot)
}

// waitOwner waits until every running node says id serves slot.
func (c *Cluster) waitOwner(ctx context.Context, slot int, id string) error {
	return poll(ctx, func() error {
		for _, s := range c.Nodes {
			if !s.Running() {
				continue
			}
			cl := s.NewClient()
			view, err := clusterView(ctx, cl)
			cl.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
			if owner := view.owner(slot); owner != id {
				return fmt.Errorf("%s says slot %d is served by %q", s.Addr(), slot, owner)
			}
		}
		return nil
	})
}

// nodeLine is one line of CLUSTER NODES.
type nodeLine struct {
	id        string
	addr      string // host:port, without the bus port and hostname
	flags     []string
	replicaOf string   // the master's id, or "" for a master
	slots     [][2]int // the ranges it serves; importing and migrating entries are left out
}

func (n nodeLine) master() bool { return slices.Contains(n.flags, "master") }
func (n nodeLine) failed() bool { return slices.Contains(n.flags, "fail") }

func (n nodeLine) serves(slot int) bool {
	for _, r := range n.slots {
		if r[0] <= slot && slot <= r[1] {
			return true
		}
	}
	return false
}

type view []nodeLine

func (v view) self() *nodeLine {
	for i := range v {
		if slices.Contains(v[i].flags, "myself") {
			return &v[i]
		}
	}
	return nil
}

func (v view) owner(slot int) string {
	for _, n := range v {
		if n.master() && n.serves(slot) {
			return n.id
		}
	}
	return ""
}

func clusterView(ctx context.Context, cl *redis.Client) (view, error) {
	text, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	return parseNodes(text)
}

func myself(ctx context.Context, cl *redis.Client) (nodeLine, error) {
	v, err := clusterView(ctx, cl)
	if err != nil {
		return nodeLine{}, err
	}
	if s := v.self(); s != nil {
		return *s, nil
	}
	return nodeLine{}, errors.New("CLUSTER NODES has no myself line")
}

// parseNodes reads CLUSTER NODES: id addr@bus[,hostname] flags master ping pong epoch link slot...
func parseNodes(text string) (view, error) {
	var v view
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: want at least 8 fields", line)
		}
		n := nodeLine{id: f[0], addr: strings.SplitN(strings.SplitN(f[1], ",", 2)[0], "@", 2)[0],
			flags: strings.Split(f[2], ",")}
		if f[3] != "-" {
			n.replicaOf = f[3]
		}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue // [slot->-id] migrating, [slot-<-id] importing
			}
			lo, hi, isRange := strings.Cut(s, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("CLUSTER NODES line %q: bad slot range %q", line, s)
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		v = append(v, n)
	}
	return v, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Redirects counts what a ClusterClient's nodes answered while slots moved: MOVED and ASK replies
// (which go-redis follows), the ASKING commands it sent to follow an ASK (also inside MULTI/EXEC,
// where go-redis reads the ASK itself and keeps it from the commands), and TRYAGAIN replies (a
// multi-key command whose keys a move had split). Safe for concurrent use.
type Redirects struct {
	moved, ask, asking, tryAgain atomic.Int64
}

// Moved is the number of MOVED replies seen.
func (r *Redirects) Moved() int64 { return r.moved.Load() }

// Ask is the number of ASK replies seen.
func (r *Redirects) Ask() int64 { return r.ask.Load() }

// Asking is the number of ASKING commands sent, one per ASK followed.
func (r *Redirects) Asking() int64 { return r.asking.Load() }

// TryAgain is the number of TRYAGAIN replies seen.
func (r *Redirects) TryAgain() int64 { return r.tryAgain.Load() }

// Total is MOVED plus the ASKs followed (the larger of ASK replies seen and ASKING sent).
func (r *Redirects) Total() int64 { return r.Moved() + max(r.Ask(), r.Asking()) }

func (r *Redirects) String() string {
	return fmt.Sprintf("%d MOVED, %d ASK, %d ASKING, %d TRYAGAIN", r.Moved(), r.Ask(), r.Asking(), r.TryAgain())
}

// Count makes the node clients of a ClusterClient built from o count into r. It fits ClientWith:
// c.ClientWith(t, r.Count).
func (r *Redirects) Count(o *redis.ClusterOptions) {
	prev := o.NewClient
	o.NewClient = func(no *redis.Options) *redis.Client {
		var cl *redis.Client
		if prev != nil {
			cl = prev(no)
		} else {
			cl = redis.NewClient(no)
		}
		cl.AddHook(redirectHook{r})
		return cl
	}
}

type redirectHook struct{ r *Redirects }

func (h redirectHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redirectHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.r.see(cmd, err)
		return err
	}
}

func (h redirectHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.r.see(cmd, cmd.Err())
		}
		return err
	}
}

// see counts cmd and its error (the process hook's: go-redis may run a copy of cmd).
func (r *Redirects) see(cmd redis.Cmder, err error) {
	if cmd.Name() == "asking" {
		r.asking.Add(1)
	}
	if err == nil {
		return
	}
	if _, ok := redis.IsMovedError(err); ok {
		r.moved.Add(1)
	} else if _, ok := redis.IsAskError(err); ok {
		r.ask.Add(1)
	} else if redis.IsTryAgainError(err) {
		r.tryAgain.Add(1)
	}
}
