// Package failover measures what a Sentinel failover loses of what was acknowledged: the market
// (Watch and Script) and ProcessLogs run against a master with two replicas watched by one
// Sentinel (redistest.SentinelGroup), through conn registry components whose configs name the
// Sentinel, while the master is SIGKILLed or SIGSTOPped at random moments (seeded; RIA_SEED reruns a
// run). Each pattern runs twice side by side against the same faults, each in a database of its own:
// in the book's mode (acknowledged once the master applied the write) and in the durable mode
// (acknowledged once both replicas confirmed it with WAIT). After each failover has settled, every
// operation acknowledged so far is looked for on the new master. The durable mode must lose none;
// the book's mode's losses are measured and logged. Its code is all in _test.go files.
//
// Why WAIT for 2 replicas of 2, not 1: Sentinel promotes the replica with the largest replication
// offset, but the offset it compares is the one from the replica's last INFO reply, which may be
// a second or more old, so it can promote the replica that had not confirmed a write WAIT 1 counted
// on the other one. With 2 of 2 whichever replica is promoted has every confirmed write. The price
// is availability: until the old master has come back and resynced, the new master has one replica
// and every durable write ends in ErrNotDurable (applied on the master, not acknowledged).
//
// What WAIT does not promise (see github.com/ria-go/ria/internal/durable): a confirmed write is in
// the replicas' memory, not on disk, so a replica restarted without persistence forgets it; a
// failover can promote a replica that did not confirm it (when fewer replicas than all are waited
// for, or the confirming one is unreachable to Sentinel); other clients can read a write before it
// is confirmed, and it may then be lost. A write not confirmed was still applied on the master and
// may survive or not. These runs never restart a replica, always wait for every replica, and the
// promoted replica is always reachable, so none of those cases can occur here; the test checks that
// no confirmed write was lost, which is the case the first two would show up as. Writes the book's
// mode loses are the ones acknowledged by a master that did not pass them to the replica Sentinel
// promoted before it died, or that ran on a SIGSTOPped master after it was resumed and before it was
// made a replica of the new master. Now and then the Sentinel also fails over by itself, taking a
// master it has just promoted for down while that master is well: a split brain, in which the book's
// mode loses what the demoted master acknowledged until its clients moved. Those failovers are
// counted too (the Sentinel's config epoch says how many there were) and logged.
package failover
