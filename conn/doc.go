// Package conn hands out go-redis clients made from configs stored in Redis.
//
// It is the Go form of the book's get_config, get_redis_connection and redis_connection (Redis in
// Action, section 5.4, used by 10.2.2). A Registry reads a component's config from
// config:redis:<component>, makes its client, re-reads the config every Wait and switches clients
// when it changes; Acquire, Do, Call and the Wrap functions hold a client for the length of a call,
// and a replaced client is closed once the calls holding it have finished.
//
// # Configs
//
// A config is a JSON object. It accepts the book's redis-py keyword form
//
//	{"host": "10.0.0.5", "port": 6380, "db": 2, "password": "...", "username": "...", "ssl": true,
//	 "unix_socket_path": "/run/redis.sock", "socket_timeout": 0.5, "socket_connect_timeout": 1,
//	 "ssl_ca_certs": "ca.pem", "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem",
//	 "ssl_cert_reqs": "required", "ssl_check_hostname": true, "client_name": "...", "max_connections": 20}
//
// Go forms ({"addr": "host:port"}, {"url": "rediss://user:pass@host:6380/2"} as in redis.ParseURL,
// read_timeout / write_timeout / dial_timeout as seconds or "500ms", pool_size, min_idle_conns,
// max_retries, protocol, dial_retries, ssl_server_name (the name to verify, when it is not the host
// dialed), and go-redis's other options below), a Redis Cluster ({"cluster": ["h1:7000", "h2:7000"],
// "read_only": true}) and a Sentinel-managed master ({"sentinel": {"master": "mymaster", "addrs":
// ["h:26379"]}}). redis-py's ssl_ca_path (a directory of PEM roots) and ssl_min_version (771 or
// "TLSv1_2", 772 or "TLSv1_3"; nothing below TLS 1.2) are mapped. The redis-py options that mean
// nothing to a Go client (decode_responses, encoding, encoding_errors, health_check_interval,
// socket_keepalive, retry_on_timeout, single_connection_client, lib_name, lib_version, and
// ssl_password: Go reads only unencrypted keys) are type-checked and ignored. A component name is
// non-empty, without spaces or control characters.
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
// conn_max_lifetime_jitter, skip_verify), and one check applies to a value in either form. Each Config
// field's doc says what its 0 and -1 mean; where conn is stricter than go-redis is listed under
// "Stricter than go-redis" below.
//
// ParseConfig reads a config; Config.StoredJSON writes one back, secrets included, and SetConfig
// accepts a Config, so a config can be read, changed and stored again. Options, ClusterOptions and
// FailoverOptions return the go-redis options a Config makes its client from, for an
// Options.NewClient hook that adds go-redis hooks or settings conn does not have.
//
// # Errors
//
// Bad input is a *ConfigError naming the key and the field (errors.Is(err, ErrBadConfig)); a missing
// config is ErrNoConfig. An error never quotes a value from the config: any string may hold a secret
// (a URL with credentials pasted into "addr", a password whose '/' breaks a URL), and a quoted or
// escaped copy would defeat masking. A host is an IP address or a name of ASCII letters, digits, '-',
// '_' and '.', so credentials pasted into a server's name are refused, not kept; an IPv6 zone
// ("fe80::1%eth0") is an interface name of at most 15 of those characters, and a sentinel master's
// name is Sentinel's charset (ASCII letters, digits, '.', '-' and '_'), as both are shown as they
// are. A TLS file that cannot be used is named by its field, never by its path. A Config never shows
// its passwords or user names (a URL's user part is often a token): String, fmt, slog and
// encoding/json all mask them, on a Config value or pointer; StoredJSON is the one unmasked path.
//
// Every call that does I/O takes a context, and once that context has ended, its error matches
// ctx.Err() (errors.Is(err, ctx.Err())): Acquire, Client, Do, Refresh and SetConfig, Call and the Wrap
// functions (fn's error included, whichever client fn ran on), and every command on a client conn
// made, where go-redis would report the deadline it set on the socket as an i/o timeout.
//
// # TLS
//
// TLS that skips verification (ssl_cert_reqs "none", ssl_check_hostname false, skip_verify=true in a
// URL) is the application's decision, not the config store's: Config.NewClient, Config.Options (and
// the cluster and failover forms) and the Registry refuse it with ErrInsecureTLS unless the
// application opts in (Options.AllowInsecureTLS, the AllowInsecure methods).
//
// The TLS files a config names are read when its client is made, within the context of the load
// (the caller's for SetConfig and Refresh; RefreshTimeout for the registry's own loads). Each must be
// a regular file of at most 1 MiB: a FIFO, a device (/dev/zero), a socket or a directory is refused
// before it is opened for reading, as a *ConfigError naming the field (not the path) and saying
// what is wrong, so reading cannot block. An
// ssl_ca_path directory holds at most 4096 entries of any type; its regular files (or links to them)
// are read the same way, at most 1 MiB each and 16 MiB in all, and its other entries are skipped
// unopened.
//
// # Clients
//
// Clients made by the registry have go-redis's ContextTimeoutEnabled on, so every call ends when its
// context does, and make no retries after a network error unless max_retries asks: go-redis retries
// by default, and a retried INCR whose reply was lost is applied twice. (max_retries 0 and -1 both
// mean none; a URL's max_retries=0, go-redis's default of 3, is read the same way.) They dial a new
// connection once unless dial_retries asks (n retries after a failed dial; -1 is go-redis's default of
// 5 dials), so a server that is down fails fast.
//
// go-redis logs a connection pool's failed dials ("redis: connection pool: failed to dial after 1
// attempts: dial tcp ...") through its own logger, to stderr by default, for every client, conn's
// included. The error also comes back from the call, so a program may silence the log with
// redis.SetLogger(&logging.VoidLogger{}) (package github.com/redis/go-redis/v9/logging, which also
// has Disable and a filtering logger) or redirect it with redis.SetLogger and its own Printf.
//
// # Fixed from the book
//
// A missing config is ErrNoConfig (the book silently connected to localhost; a stored config still
// gets redis-py's defaults, as above). A replaced client is closed once the calls using it finish (the
// book leaked it). Concurrent callers share one config read per Wait, done in the background so no
// call waits for the config server once a client is cached. A config server that is down leaves the
// cached client serving and the error in Err. The first read of a component runs on the registry's own
// context, bounded by Options.RefreshTimeout, so a caller whose context ends stops waiting without
// failing the read for the others.
//
// # Stricter than go-redis
//
// A duration is more than 0 and at most a day (go-redis reads 0 and negative values as "no timeout"
// or "no deadline", and conn keeps every call bounded). A URL option given twice, a database in both
// path and query, a fragment, or an option set both in the URL and as its own field is refused.
// client_name is printable ASCII without spaces (Redis refuses any other CLIENT SETNAME). An IPv6
// zone must be an interface name, and a sentinel master's name Sentinel's documented charset. The JSON is
// read strictly: invalid UTF-8 (or an escaped lone surrogate) in a string, a key given twice, or a
// sentinel key in other case ("PASSWORD") is an error, not a guess.
//
// # Known limits
//
// In go-redis v9.23 (go-redis issue #2145), a ClusterClient loads COMMAND info on its first command
// with a context of its own (5 s), so a new cluster client whose nodes hang can overrun the caller's
// deadline by up to 5 s until one load succeeds. Once it has succeeded, deadlines hold. Warming the
// table in the background would not help: go-redis holds the table's lock for the whole load, so the
// caller's first command waits for it anyway, and the table cannot be filled from outside. (go-redis's
// experimental ClusterOptions.DisableRoutingPolicies skips most loads, but changes how multi-shard
// commands are routed, so conn leaves it off.)
//
// go-redis bounds a socket read by the context's deadline, not by its cancellation (go-redis issue
// #2556): a call whose context is cancelled without a deadline, on a server that stops answering,
// returns at the client's ReadTimeout (read_timeout, 3 s by default), with an error that matches
// context.Canceled. Give calls a deadline where that wait matters. The registry's own reads of the
// config server are such calls: Registry.Close waits for them at most half a second, then returns
// (callers waiting on them get ErrClosed), leaving a read stuck on a server that stopped answering to
// end with the config client's ReadTimeout, or never with none; what it reads is discarded.
//
// A ClusterClient resends a command after a network error up to MaxRedirects times (3), first on
// the same node, whatever MaxRetries says: go-redis decides that per command, not per client. The
// toolkit's own non-idempotent writes are marked NoRetry and never resent; mark yours the same way
// (a Cmder whose NoRetry method answers true) when they run on a Redis Cluster.
package conn
