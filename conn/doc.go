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
// max_retries, protocol, dial_retries, and go-redis's other options below), a Redis Cluster
// ({"cluster": ["h1:7000", "h2:7000"], "read_only": true}) and a Sentinel-managed master
// ({"sentinel": {"master": "mymaster", "addrs": ["h:26379"]}}). redis-py's
// ssl_ca_path (a directory of PEM roots) and ssl_min_version (771 or "TLSv1_2", 772 or "TLSv1_3"; nothing
// below TLS 1.2) are mapped. The redis-py options that mean nothing to a Go client (decode_responses,
// encoding, encoding_errors, health_check_interval, socket_keepalive, retry_on_timeout,
// single_connection_client, lib_name, lib_version, and ssl_password: Go reads only unencrypted keys)
// are type-checked and ignored. An unknown field, a wrong type or an impossible combination is a
// *ConfigError naming the key and field. A component name is non-empty, without spaces or control
// characters.
//
// A config that names no server (no host, port, addr, url, unix_socket_path, cluster or sentinel)
// means localhost:6379, and host or port alone gets the other from the same defaults: redis-py's, as
// redis.Redis(**config) applies them, so the book's {"db": 15} and {} connect where the book's code does.
//
// Every option go-redis's ParseURL reads from a URL's query is also a JSON field of the same name, with
// the same meaning (db, protocol, client_name, max_retries, min_retry_backoff, max_retry_backoff,
// dial_timeout, read_timeout, write_timeout, pool_fifo, pool_size, pool_timeout, min_idle_conns,
// max_idle_conns, max_active_conns, max_concurrent_dials, pipeline_pool_size, pipeline_read_buffer_size,
// pipeline_write_buffer_size, conn_max_idle_time or idle_timeout, conn_max_lifetime or max_conn_age,
// conn_max_lifetime_jitter, skip_verify), and one check applies to a value in either form: a URL's
// bad port, database, option or value is a *ConfigError for field "url" naming the part or option.
// Where conn is stricter than go-redis: a duration is more than 0 and at most a day (go-redis reads 0
// and negative values as "no timeout" or "no deadline", and conn keeps every call bounded); a URL option
// given twice, a database in both path and query, a fragment, or an option set both in the URL and as
// its own field is refused. client_name is printable ASCII without spaces (Redis refuses any other
// CLIENT SETNAME). The JSON is read strictly: invalid UTF-8 (or an escaped lone surrogate) in a string,
// a key given twice, or a sentinel key in other case ("PASSWORD") is an error, not a guess.
//
// An error never quotes a value from the config: any string may hold a secret (a URL with credentials
// pasted into "addr", a password whose '/' breaks a URL), and a quoted or escaped copy would defeat
// masking. It names the field and the rule broken. A host is an IP address or a name of ASCII letters,
// digits, '-', '_' and '.', so credentials pasted into a server's name are refused, not kept.
//
// TLS that skips verification (ssl_cert_reqs "none", ssl_check_hostname false, skip_verify=true in a
// URL) is the application's decision, not the config store's: Config.NewClient and the Registry
// refuse it with ErrInsecureTLS unless the application opts in (Options.AllowInsecureTLS,
// Config.NewClientAllowInsecure). A Config never shows its passwords or user names (a URL's user part
// is often a token): String, fmt, slog and encoding/json all mask them, on a Config value or pointer.
//
// Fixed from the book: a missing config is ErrNoConfig (the book silently connected to localhost; a
// stored config still gets redis-py's defaults, as above); a replaced client is closed once the calls
// using it finish (the book leaked it); concurrent callers share one config read per Wait, done in the
// background so no call waits for the config server once a client
// is cached; a config server that is down leaves the cached client serving and the error in Err. The
// first read of a component runs on the registry's own context, bounded by Options.RefreshTimeout, so a
// caller whose context ends stops waiting without failing the read for the others.
//
// Clients made by the registry have go-redis's ContextTimeoutEnabled on, so every call ends when its
// context does, and make no retries after a network error unless max_retries asks: go-redis retries
// by default, and a retried INCR whose reply was lost is applied twice. (max_retries 0 and -1 both
// mean none; a URL's max_retries=0, go-redis's default of 3, is read the same way.) They dial a new
// connection once unless dial_retries asks (n retries after a failed dial; -1 is go-redis's default of
// 5 dials), so a server that is down fails fast.
//
// One known limit, in go-redis v9.23 (issue #2145): a ClusterClient loads COMMAND info on its first
// command with a context of its own (5 s), so a new cluster client whose nodes hang can overrun
// the caller's deadline by up to 5 s until one load succeeds. Once it has succeeded, deadlines hold.
// Warming the table in the background would not help: go-redis holds the table's lock for the whole
// load, so the caller's first command waits for it anyway, and the table cannot be filled from outside.
// (go-redis's experimental ClusterOptions.DisableRoutingPolicies skips most loads, but changes how
// multi-shard commands are routed, so conn leaves it off.)
package conn
