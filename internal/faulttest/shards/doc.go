// Package shards holds fault tests of sharded access (shard.Cluster, uniquevisits) and of the conn registry when a shard or the config server dies.
package shards
