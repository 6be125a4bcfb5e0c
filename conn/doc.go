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
// Sentinel-managed master ({"sentinel": {"master": "mymaster", "addrs": ["h:26379"]}}). The redis-py
// options that mean nothing to a Go client (decode_responses, encoding, encoding_errors,
// health_check_interval, socket_keepalive, retry_on_timeout) are accepted and ignored. An unknown field,
// a wrong type or an impossible combination is a *ConfigError naming the key and field.
//
// Fixed from the book: a missing config is ErrNoConfig (the book silently connected to localhost); a
// replaced client is closed once the calls using it finish (the book leaked it); concurrent callers share
// one config read per Wait, done in the background so no call waits for the config server once a client
// is cached; a config server that is down leaves the cached client serving and the error in Err.
//
// Clients made by the registry have go-redis's ContextTimeoutEnabled on, so every call ends when its
// context does, and make no retries after a network error unless max_retries asks: go-redis retries
// by default, and a retried INCR whose reply was lost is applied twice.
//
// One known limit, in go-redis v9.23 (issue #2145): a ClusterClient loads COMMAND info on its first
// keyed command with a context of its own (5 s), so a new cluster client whose nodes hang can overrun
// the caller's deadline by up to 5 s until one load succeeds. Once it has succeeded, deadlines hold.
package conn
