// Package acltest runs every pattern as a Redis ACL user that has only the rules the README names
// for it, so the published least-privilege rule sets are proven sufficient and minimal.
//
// Sufficient: the scenario returns no error, and the ACL LOG of every server it talks to (reset
// before the run, next to CONFIG RESETSTAT) records no refusal, so a refused command, key or channel
// whose error the library swallows (a PING it ignores, a fallback it takes) fails the test too.
// Minimal: every command the rules grant was run (INFO commandstats calls > 0: a rejected command is
// listed with calls=0 and is not used), and every key pattern is needed (without it the run is
// refused). Each scenario calls every public call of its pattern that does I/O, in its row's
// setting (single server, Redis Cluster, sharded through the registry, durable). With ACL_DISCOVER=1
// each scenario runs with +@all and logs the commands it used.
package acltest
