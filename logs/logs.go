package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/internal/safefile"
	"github.com/ria-go/ria/shard"
)

// Options configure ProcessLogs.
type Options struct {
	// Prefix is prepended to "file" and "position" to name the progress keys, so several processors
	// (each with its own directory) can share a server. On a Redis Cluster it must hold a hash tag,
	// such as "{proc1}progress:", and the callback's keys the same tag ("{proc1}status:"): the
	// progress and the callback's writes share one transaction, so one slot (else ErrCrossSlot).
	// default: "progress:" (the book's progress:file and progress:position)
	Prefix string

	// BatchLines is how many lines go into one MULTI/EXEC with the progress update. A file's last
	// lines are committed at its end whatever their number.
	// default: 1000 (the book's); -1: no count limit (a batch ends at MaxBatchBytes or a file's end)
	BatchLines int

	// MaxBatchBytes: a batch is committed early once the lines read into it (newlines included)
	// reach this many bytes, so a batch of long lines holds at most about MaxBatchBytes +
	// MaxLineBytes of text, not BatchLines × MaxLineBytes (1 GiB with the defaults).
	// default: 8 MiB; it cannot be off (-1 is an error): it is what bounds a batch's memory
	MaxBatchBytes int

	// MaxLineBytes bounds a line's length (without its newline). A longer line stops the run with
	// ErrLineTooLong.
	// default: 1 MiB; it cannot be off (-1 is an error): it is what bounds a line's memory
	MaxLineBytes int

	// SkipMissing: when the saved progress names a file that is gone, continue with the next file
	// in sorted order (the rest of the missing file is lost) instead of returning ErrFileMissing.
	// default: false
	SkipMissing bool

	// HoldPartial: in the last file (in sorted order), leave a final line without a newline
	// unprocessed, progress stopping before it, for a file still being written. Otherwise such a line
	// is processed as a complete line, as the book does. Earlier files are finished (a later one
	// exists), so their final line is always processed.
	// default: false
	HoldPartial bool

	// OnCommit, when set, is called after each committed transaction with the running totals and the
	// saved progress, from the goroutine that called ProcessLogs. In durable mode it is called only
	// once the replicas confirmed the transaction: never for the batch that ends in ErrNotDurable.
	// default: nil
	OnCommit func(Result)

	// Durable, with Replicas > 0, confirms each batch's transaction with WAIT on its own connection
	// (on a Redis Cluster, on the master of the progress keys' slot) before counting it; a batch
	// committed but not confirmed within Timeout stops the run with ErrNotDurable. Its errors name
	// the fields "Durable.Replicas" and "Durable.Timeout".
	// default: off (Replicas 0 or -1), the book's behaviour; Timeout 1 second, -1: until ctx ends
	Durable Durability
}

const (
	defaultPrefix        = "progress:"
	defaultBatchLines    = 1000
	defaultMaxLineBytes  = 1 << 20
	defaultMaxBatchBytes = 8 << 20
	readBufferSize       = 64 << 10
)

var optionsOf = option.Of{Type: "logs.Options", Also: ErrBadInput}

// init checks o by the package's option rule (see ErrBadOption) and fills the defaults.
func (o *Options) init() error {
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	return option.Join(
		option.Fill(optionsOf, "BatchLines", &o.BatchLines, defaultBatchLines, true),
		option.Fill(optionsOf, "MaxLineBytes", &o.MaxLineBytes, defaultMaxLineBytes, false),
		option.Fill(optionsOf, "MaxBatchBytes", &o.MaxBatchBytes, defaultMaxBatchBytes, false),
		o.Durable.Fill(optionsOf, "Durable."),
	)
}

// Line is one line handed to the callback.
type Line struct {
	File   string // file name inside the directory
	Offset int64  // byte offset of the line's first byte
	Text   string // the line without its "\n" or "\r\n"
}

// Callback queues the writes for one line on pipe, the batch's MULTI/EXEC pipeline. It must not
// execute pipe, and it must only queue writes (their replies arrive after EXEC). Returning an
// error stops ProcessLogs and discards the batch.
type Callback func(ctx context.Context, pipe redis.Pipeliner, line Line) error

// Result counts what one call to ProcessLogs committed, and where the saved progress stands.
// On error it holds what was committed before the error.
type Result struct {
	Files    int   // files opened, including a resumed one and empty ones
	Lines    int64 // lines committed
	Bytes    int64 // bytes of those lines, newlines included
	Commits  int   // transactions committed
	File     string
	Position int64 // saved progress: File and the byte offset after its last committed line

	// Confirmed is the progress of this call's last acknowledged commit: in durable mode, the last
	// one the replicas confirmed; otherwise every commit (the master's acknowledgement, as in the
	// book). Saved is false while no commit of this call was acknowledged. After ErrNotDurable it is
	// behind File and Position: the lines between are on the master, perhaps not on its replicas.
	Confirmed Progress
}

// Progress is the saved progress of a processor.
type Progress struct {
	Saved    bool // false: nothing saved yet, processing starts with the first file
	File     string
	Position int64
}

// ReadProgress returns the progress saved under prefix ("" means the default "progress:"). On a
// *redis.ClusterClient a prefix whose keys are in two slots is ErrCrossSlot, and a *redis.Ring is
// ErrBadInput (see ProcessLogs), before any I/O.
func ReadProgress(ctx context.Context, c redis.Cmdable, prefix string) (_ Progress, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if c == nil {
		return Progress{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	if prefix == "" {
		prefix = defaultPrefix
	}
	if err := checkSlot(c, prefix); err != nil {
		return Progress{}, err
	}
	vals, err := c.MGet(ctx, fileKey(prefix), positionKey(prefix)).Result()
	if noretry.IsSlotMoving(err) { // TRYAGAIN once go-redis's retries ran out: the keys are split
		return Progress{}, fmt.Errorf("logs: reading progress: %w: %w", ErrSlotMoving, err)
	}
	if err != nil {
		return Progress{}, fmt.Errorf("logs: reading progress: %w", err)
	}
	return parseProgress(vals)
}

// checkSlot refuses a Ring, and on a Redis Cluster progress keys in two slots: WATCH and
// MULTI/EXEC need one server, and one slot.
func checkSlot(c redis.Cmdable, prefix string) error {
	if _, ok := c.(*redis.Ring); ok {
		return fmt.Errorf("%w: a *redis.Ring: its shards share no transaction; give the client of one server", ErrBadInput)
	}
	if _, ok := c.(*redis.ClusterClient); !ok {
		return nil
	}
	fk, pk := fileKey(prefix), positionKey(prefix)
	if fs, ps := shard.Slot(fk), shard.Slot(pk); fs != ps {
		return fmt.Errorf("%w: %w: progress keys %q (slot %d) and %q (slot %d): give Prefix a hash tag, such as \"{logs}progress:\"",
			ErrCrossSlot, ErrBadInput, fk, fs, pk, ps)
	}
	return nil
}

func parseProgress(vals []any) (Progress, error) {
	if len(vals) != 2 {
		return Progress{}, fmt.Errorf("%w: MGET returned %d values", ErrBadProgress, len(vals))
	}
	file, fok := vals[0].(string)
	pos, pok := vals[1].(string)
	switch {
	case !fok && !pok:
		return Progress{}, nil
	case !fok:
		return Progress{}, fmt.Errorf("%w: position %q without a file", ErrBadProgress, pos)
	case !pok:
		return Progress{}, fmt.Errorf("%w: file %q without a position", ErrBadProgress, file)
	}
	n, err := strconv.ParseInt(pos, 10, 64)
	if err != nil || n < 0 {
		return Progress{}, fmt.Errorf("%w: position %q of file %q is not a byte offset", ErrBadProgress, pos, file)
	}
	if file == "" {
		return Progress{}, fmt.Errorf("%w: empty file name", ErrBadProgress)
	}
	return Progress{Saved: true, File: file, Position: n}, nil
}

// ProcessLogs passes every line of the files in dir, in sorted name order, to callback, and commits
// the callback's writes together with the progress (file name and byte position) in one MULTI/EXEC
// every BatchLines lines (sooner once a batch reaches MaxBatchBytes) and at the end of each file.
// It resumes from the saved progress, so a run stopped at any moment (crash, SIGKILL, ctx) and
// started again sees each line committed exactly once.
//
// It returns when every file has been read to its end, or with the first error; the saved progress
// is then that of the last commit. Each transaction is guarded by WATCH on the progress keys, so it
// applies only if the progress is still the one this call saved last: a transaction resent by the
// client, or a second processor with the same prefix, cannot apply a batch twice. Options are
// checked before any I/O: a value the option rule refuses (see ErrBadOption) is an *OptionError.
// In durable mode (Options.Durable) each transaction is followed by WAIT on its connection, and a
// batch committed but not confirmed stops the run with ErrNotDurable. On a Redis Cluster, a batch
// refused because its slot is moving is ErrSlotMoving: not committed, run again.
func ProcessLogs(ctx context.Context, c redis.UniversalClient, dir string, callback Callback, opt *Options) (_ Result, err error) {
	// A deadline go-redis enforced on the socket reads "i/o timeout": make it say ctx's error too.
	defer func() { err = noretry.CtxErr(ctx, err) }()
	var o Options
	if opt != nil {
		o = *opt
	}
	switch {
	case c == nil:
		return Result{}, fmt.Errorf("%w: nil client", ErrBadInput)
	case callback == nil:
		return Result{}, fmt.Errorf("%w: nil callback", ErrBadInput)
	case dir == "":
		return Result{}, fmt.Errorf("%w: empty directory name", ErrBadInput)
	}
	if err := o.init(); err != nil {
		return Result{}, err
	}

	if err := checkSlot(c, o.Prefix); err != nil {
		return Result{}, err
	}
	if o.Durable.On() {
		// A Ring has no one connection that carries a write and its WAIT: refuse before any batch.
		if _, err := durable.Node(ctx, c, fileKey(o.Prefix)); errors.Is(err, durable.ErrNoNode) {
			return Result{}, fmt.Errorf("%w: Durable: %w", ErrBadInput, err)
		} else if err != nil {
			return Result{}, fmt.Errorf("logs: finding the progress keys' node: %w", err)
		}
	}

	saved, err := ReadProgress(ctx, c, o.Prefix)
	if err != nil {
		return Result{}, err
	}
	p := &processor{c: c, cb: callback, o: &o, fk: fileKey(o.Prefix), pk: positionKey(o.Prefix), saved: saved}
	p.res.File, p.res.Position = saved.File, saved.Position

	names, err := listFiles(dir)
	if err != nil {
		return p.res, err
	}
	start := 0
	if saved.Saved {
		// Files sorting before the saved one are done; the book compared with a missing value here.
		for start < len(names) && names[start] < saved.File {
			start++
		}
		if start == len(names) || names[start] != saved.File {
			if !o.SkipMissing {
				return p.res, fileErr(saved.File, saved.Position, ErrFileMissing, nil)
			}
		}
	}
	for i := start; i < len(names); i++ {
		if err := ctx.Err(); err != nil {
			return p.res, err
		}
		name := names[i]
		var off int64
		if saved.Saved && name == saved.File {
			off = saved.Position
		}
		last := i == len(names)-1
		if err := p.processFile(ctx, filepath.Join(dir, name), name, off, last); err != nil {
			return p.res, err
		}
	}
	return p.res, nil
}

// listFiles returns the names of the files in dir, sorted. Directories, symbolic links to
// directories and names starting with "." (temporary files of rsync, editors and log shippers) are
// left out. Every other entry is kept, so one that is not a regular file (a FIFO, a device, a dangling
// link) stops the run with ErrUnreadable when its turn comes, rather than being lost silently.
func listFiles(dir string) ([]string, error) {
	d, err := safefile.OpenDir(dir) // os.ReadDir would block if dir were a FIFO
	if err != nil {
		return nil, fmt.Errorf("%w: directory %q: %w", ErrUnreadable, dir, err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: directory %q: %w", ErrUnreadable, dir, err)
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.Type()&os.ModeSymlink != 0 {
			// Decided by what the link points to; stat opens nothing, so a link to a FIFO cannot block.
			if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.IsDir() {
				continue
			}
		}
		names = append(names, e.Name())
	}
	return names, nil
}

type processor struct {
	c      redis.UniversalClient
	cb     Callback
	o      *Options
	fk, pk string
	saved  Progress // what this call committed last (or read at start): each commit checks it
	res    Result
}

// processFile processes name from byte off. last: it is the last file, the only one that may still
// be written to (HoldPartial applies to it alone).
func (p *processor) processFile(ctx context.Context, path, name string, off int64, last bool) error {
	// os.Open of a FIFO would block until a writer came: safefile refuses anything but a regular
	// file before reading it, whatever a link points to.
	f, err := safefile.Open(path)
	if err != nil {
		return fileErr(name, off, ErrUnreadable, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileErr(name, off, ErrUnreadable, err)
	}
	if off > 0 {
		if off > fi.Size() {
			return fileErr(name, off, ErrFileChanged, fmt.Errorf("file is %d bytes, shorter than the saved position", fi.Size()))
		}
		if off < fi.Size() {
			var b [1]byte
			if _, err := f.ReadAt(b[:], off-1); err != nil {
				return fileErr(name, off, ErrUnreadable, err)
			}
			if b[0] != '\n' {
				return fileErr(name, off, ErrFileChanged, errors.New("saved position is not at the start of a line"))
			}
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fileErr(name, off, ErrUnreadable, err)
		}
	}
	defer safefile.Bound(ctx, f)()
	p.res.Files++
	lr := &lineReader{r: bufio.NewReaderSize(f, readBufferSize), max: p.o.MaxLineBytes}
	for {
		eof, err := p.batch(ctx, name, lr, &off, last && p.o.HoldPartial)
		if err != nil || eof {
			return err
		}
	}
}

// batch reads up to BatchLines lines (fewer once MaxBatchBytes is reached), queues the callback's
// writes and commits them with the progress. It reports eof when the file has no more lines to give.
func (p *processor) batch(ctx context.Context, name string, lr *lineReader, off *int64, holdPartial bool) (eof bool, err error) {
	fn := func(tx *redis.Tx) error {
		vals, err := tx.MGet(ctx, p.fk, p.pk).Result()
		if noretry.IsSlotMoving(err) {
			return fileErr(name, *off, ErrSlotMoving, fmt.Errorf("reading progress: %w", err))
		}
		if err != nil {
			return fmt.Errorf("logs: reading progress: %w", err)
		}
		cur, err := parseProgress(vals)
		if err != nil {
			return err
		}
		if cur != p.saved {
			return fmt.Errorf("%w: saved progress is now %+v, this run committed %+v", ErrConcurrent, cur, p.saved)
		}

		pipe := tx.TxPipeline()
		pos, n := *off, 0
		// The callback's commands hold about the lines' text until EXEC: bound both count and bytes.
		for (p.o.BatchLines == option.Off || n < p.o.BatchLines) && pos-*off < int64(p.o.MaxBatchBytes) {
			if err := ctx.Err(); err != nil {
				return err
			}
			text, size, terminated, err := lr.next()
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				if errors.Is(err, ErrLineTooLong) {
					return fileErr(name, pos, ErrLineTooLong, fmt.Errorf("longer than %d bytes", p.o.MaxLineBytes))
				}
				return fileErr(name, pos, ErrUnreadable, err)
			}
			if !terminated && holdPartial {
				eof = true
				break
			}
			if err := p.cb(ctx, pipe, Line{File: name, Offset: pos, Text: string(text)}); err != nil {
				return fileErr(name, pos, ErrCallback, err)
			}
			pos += int64(size)
			n++
		}
		next := Progress{Saved: true, File: name, Position: pos}
		if n == 0 && next == p.saved {
			return nil // nothing new: no empty transaction
		}
		mset := pipe.MSet(ctx, p.fk, name, p.pk, strconv.FormatInt(pos, 10))
		var w *durable.Waiter
		if p.o.Durable.On() {
			w = p.o.Durable.Begin()
		}
		cmds, err := pipe.Exec(ctx)
		if errors.Is(err, redis.TxFailedErr) {
			return fmt.Errorf("%w: WATCH on %s, %s fired", ErrConcurrent, p.fk, p.pk)
		}
		if mset.Err() != nil {
			if err := p.slotRefusal(ctx, tx, name, *off, cmds); err != nil {
				return err
			}
			if redis.IsExecAbortError(err) {
				return fileErr(name, *off, ErrRefused, refused(cmds, err))
			}
			// Unknown (connection lost): the saved progress tells.
			return fmt.Errorf("logs: commit of %s up to byte %d: %w", name, pos, err)
		}
		p.res.Lines += int64(n)
		p.res.Bytes += pos - *off
		p.res.Commits++
		p.res.File, p.res.Position = name, pos
		p.saved = next
		*off = pos
		var failed, unconfirmed error
		if err != nil {
			failed = fileErr(name, pos, ErrCommandFailed, err)
		}
		if w != nil {
			// The Tx is the transaction's own connection: its WAIT covers the batch.
			if err := w.Confirm(ctx, tx, w.Queue(ctx, tx)); err != nil {
				unconfirmed = &FileError{File: name, Offset: pos, Err: fmt.Errorf("logs: batch committed on the master: %w", err)}
			}
		}
		if unconfirmed == nil {
			p.res.Confirmed = next
			if p.o.OnCommit != nil {
				p.o.OnCommit(p.res)
			}
		}
		return errors.Join(failed, unconfirmed)
	}
	_, cluster := p.c.(*redis.ClusterClient)
	if p.o.Durable.On() || cluster {
		// The slot's master itself: the WAIT goes where the transaction went, and ClusterClient.Watch
		// is not used, as it follows an ASK without ASKING (the importing node answers MOVED, back)
		// and, once its redirects run out, returns nil without having run fn. OnNode follows a MOVED
		// or waits out an ASK reply to WATCH only (fn's own errors are wrapped): no batch is read twice.
		err = durable.OnNode(ctx, p.c, p.fk, func(node *redis.Client) error { return node.Watch(ctx, fn, p.fk, p.pk) })
	} else {
		err = p.c.Watch(ctx, fn, p.fk, p.pk)
	}
	if noretry.IsSlotMoving(err) { // WATCH refused: an ASK still there after OnNode's tries, or TRYAGAIN
		err = fileErr(name, *off, ErrSlotMoving, fmt.Errorf("WATCH %s %s: %w", p.fk, p.pk, err))
	}
	return eof, err
}

// slotRefusal explains a batch (from byte off of name) EXEC refused for a key's hash slot:
// ErrCrossSlot when Redis said CROSSSLOT, or redirected (MOVED, ASK, TRYAGAIN) a key of a slot other
// than the progress keys'; ErrSlotMoving when the redirected keys are in the progress keys' slot (a
// live reshard: the next run goes on). Either way nothing was applied. It returns nil for any other
// refusal.
func (p *processor) slotRefusal(ctx context.Context, tx *redis.Tx, name string, off int64, cmds []redis.Cmder) error {
	var moved []redis.Cmder
	for _, cmd := range cmds {
		err := cmd.Err()
		switch {
		case errors.Is(err, redis.ErrCrossSlot):
			return fileErr(name, off, ErrCrossSlot, err)
		case noretry.IsSlotMoving(err):
			moved = append(moved, cmd)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	keys, err := firstKeys(ctx, tx, moved)
	if err != nil {
		return fmt.Errorf("logs: commit of %s from byte %d refused (%w); finding its keys' slots: %w",
			name, off, moved[0].Err(), err)
	}
	slot := shard.Slot(p.fk)
	for i, cmd := range moved {
		if k, ok := keys[i]; ok && shard.Slot(k) != slot {
			return fileErr(name, off, ErrCrossSlot, fmt.Errorf("%s key %q is in slot %d, the progress keys in slot %d: %w",
				cmd.Name(), k, shard.Slot(k), slot, cmd.Err()))
		}
	}
	what := moved[0].Name()
	if k, ok := keys[0]; ok {
		what += fmt.Sprintf(" %q", k)
	}
	return fileErr(name, off, ErrSlotMoving, fmt.Errorf("%s: %w", what, moved[0].Err()))
}

// refused is the reply of the first command the server refused as it was queued, which made EXEC
// abort (exec, EXECABORT's own error, when none is found).
func refused(cmds []redis.Cmder, exec error) error {
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !redis.IsExecAbortError(err) {
			return fmt.Errorf("%s: %w (%v)", cmd.Name(), err, exec)
		}
	}
	return exec
}

// firstKeys returns the key at each command's first key position, the one go-redis routes a command
// by (COMMAND INFO's first key), or for a command whose keys depend on its arguments (EVAL, FCALL,
// OBJECT ENCODING: position 0) the first key COMMAND GETKEYS finds. A command without keys has no
// entry. One round trip on tx's connection, two when some keys depend on the arguments.
func firstKeys(ctx context.Context, tx *redis.Tx, cmds []redis.Cmder) (map[int]string, error) {
	args := []any{"command", "info"}
	seen := map[string]bool{}
	for _, cmd := range cmds {
		if !seen[cmd.Name()] {
			seen[cmd.Name()] = true
			args = append(args, cmd.Name())
		}
	}
	info := redis.NewCommandsInfoCmd(ctx, args...)
	if err := tx.Process(ctx, info); err != nil {
		return nil, err
	}
	keys := make(map[int]string, len(cmds))
	getKeys := map[int]*redis.StringSliceCmd{}
	pipe := tx.Pipeline()
	for i, cmd := range cmds {
		a := cmd.Args()
		if ci := info.Val()[cmd.Name()]; ci != nil && ci.FirstKeyPos > 0 && int(ci.FirstKeyPos) < len(a) {
			keys[i] = argString(a[ci.FirstKeyPos])
			continue
		}
		getKeys[i] = pipe.CommandGetKeys(ctx, a...)
	}
	if len(getKeys) > 0 {
		pipe.Exec(ctx) // each command's own error is read below
	}
	for i, cmd := range getKeys {
		ks, err := cmd.Result()
		switch {
		case noretry.IsErrorReply(err): // refused: no key found in its arguments
		case err != nil:
			return nil, err
		case len(ks) > 0:
			keys[i] = ks[0]
		}
	}
	return keys, nil
}

// argString is an argument as go-redis writes it on the wire, for the key kinds a callback passes.
func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(a)
}

// lineReader reads lines of at most max bytes through a fixed-size buffer.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// next returns the next line without its terminator, the bytes it took in the file, and whether it
// ended with a newline. It returns io.EOF when nothing is left. The text is valid until the next call.
func (lr *lineReader) next() (text []byte, size int, terminated bool, err error) {
	lr.buf = lr.buf[:0]
	for {
		frag, err := lr.r.ReadSlice('\n')
		size += len(frag)
		switch err {
		case nil:
			lr.buf = append(lr.buf, frag[:len(frag)-1]...)
			line := trimCR(lr.buf)
			if len(line) > lr.max {
				return nil, size, true, ErrLineTooLong
			}
			return line, size, true, nil
		case bufio.ErrBufferFull:
			lr.buf = append(lr.buf, frag...)
			if len(lr.buf) > lr.max+1 { // +1: the fragment may end with the "\r" of a "\r\n"
				return nil, size, false, ErrLineTooLong
			}
		case io.EOF:
			lr.buf = append(lr.buf, frag...)
			if size == 0 {
				return nil, 0, false, io.EOF
			}
			if len(lr.buf) > lr.max {
				return nil, size, false, ErrLineTooLong
			}
			return lr.buf, size, false, nil
		default:
			return nil, size, false, err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
