// Package shards holds fault tests of sharded access (hostset.Hosts, uniquevisits) and of the conn registry when a shard or the config server dies.
package shards
