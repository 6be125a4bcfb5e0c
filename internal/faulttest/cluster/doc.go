// Package cluster holds fault tests of the sharded patterns (tokens, uniquevisits) on a Redis Cluster
// whose slots move and whose masters die mid-run, and the schedule of those faults (Reshard) that the
// market and logs fault tests run too.
package cluster
