// Package conn is a registry of Redis connections whose configs live in Redis: the Go form of the book's
// get_config, get_redis_connection and redis_connection (Redis in Action, section 5.4, used by 10.2.2).
//
// A component's config is a JSON object stored at config:redis:<component>. It accepts the book's
// redis-py keyword form
//
//	{"host": "10.0.0.5", "port": 6380, "db": 2, "password": "...", "username": "...", "ssl": true,
//	 "unix_socket_path": "/run/redis.sock", "socket_timeout": 0.5, "socket_connect_timeout": 1,
//	 "ssl_ca_certs": "ca.pem", "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem",
//	 "ssl_cert_reqs": "required", "ssl_check_hostname": true, "client_name": "...", "max_connections": 20}
//
// Go forms ({"addr": "host:port"}, {"url": "rediss://user:pass@host:6380/2"} as in redis.ParseURL,
// read_timeout / write_timeout / dial_timeout as seconds or "500ms", pool_size, min_idle_conns,
// max_retries, protocol), a Redis Cluster ({"cluster": ["h1:7000", "h2:7000"], "read_only": true}) and a
// Sentinel-managed master ({"sentinel": {"master": "mymaster", "addrs": ["h:26379"]}}). redis-py's
// ssl_ca_path (a directory of PEM roots) and ssl_min_version (771 or "TLSv1_2", 772 or "TLSv1_3"; nothing
// below TLS 1.2) are mapped. The redis-py options that mean nothing to a Go client (decode_responses,
// encoding, encoding_errors, health_check_interval, socket_keepalive, retry_on_timeout,
// single_connection_client, lib_name, lib_version, and ssl_password: Go reads only unencrypted keys)
// are type-checked and ignored. An unknown field, a wrong type or an impossible combination is a
// *ConfigError naming the key and field. A component name is non-empty, without spaces or control
// characters.
//
// TLS that skips verification (ssl_cert_reqs "none", ssl_check_hostname false, skip_verify=true in a
// URL) is the application's decision, not the config store's: Config.NewClient and the Registry
// refuse it with ErrInsecureTLS unless the application opts in (Options.AllowInsecureTLS,
// Config.NewClientAllowInsecure). A Config never shows its passwords: String, fmt, slog and
// encoding/json all mask them, on a Config value or pointer.
//
// Fixed from the book: a missing config is ErrNoConfig (the book silently connected to localhost); a
// replaced client is closed once the calls using it finish (the book leaked it); concurrent callers share
// one config read per Wait, done in the background so no call waits for the config server once a client
// is cached; a config server that is down leaves the cached client serving and the error in Err. The
// first read of a component runs on the registry's own context, bounded by Options.RefreshTimeout, so a
// caller whose context ends stops waiting without failing the read for the others.
//
// Clients made by the registry have go-redis's ContextTimeoutEnabled on, so every call ends when its
// context does, and make no retries after a network error unless max_retries asks: go-redis retries
// by default, and a retried INCR whose reply was lost is applied twice.
//
// One known limit, in go-redis v9.23 (issue #2145): a ClusterClient loads COMMAND info on its first
// command with a context of its own (5 s), so a new cluster client whose nodes hang can overrun
// the caller's deadline by up to 5 s until one load succeeds. Once it has succeeded, deadlines hold.
// Warming the table in the background would not help: go-redis holds the table's lock for the whole
// load, so the caller's first command waits for it anyway, and the table cannot be filled from outside.
// (go-redis's experimental ClusterOptions.DisableRoutingPolicies skips most loads, but changes how
// multi-shard commands are routed, so conn leaves it off.)
package conn
