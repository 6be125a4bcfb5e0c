package conn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// wantConfigErr checks err is a *ConfigError wrapping ErrBadConfig that names field, and whose message
// holds every one of parts.
func wantConfigErr(t *testing.T, what string, err error, field string, parts ...string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("%s: error %v (%T); want a *ConfigError wrapping ErrBadConfig", what, err, err)
	}
	if ce.Field != field {
		t.Fatalf("%s: error %q names field %q; want %q", what, err, ce.Field, field)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: error %q does not say %q", what, err, p)
		}
	}
}

// A URL gets the checks its JSON fields get: what go-redis would read as database 0, a port that
// cannot be dialed, or an option dropped, is a *ConfigError naming the URL part or query option.
func TestParseURLRefusesWhatItCannotMean(t *testing.T) {
	tests := []struct {
		name, url string
		says      []string
	}{
		{"negative db in the path", "redis://h:6379/-1", []string{"path", "0 or more"}},
		{"negative db in the query", "redis://h:6379?db=-3", []string{`"db"`, "0 or more"}},
		{"db not a number", "redis://h:6379/x", []string{"path"}},
		{"db twice", "redis://h:6379/3?db=1", []string{"twice"}},
		{"port 0", "redis://h:0", []string{"port", "1 to 65535"}},
		{"port 99999", "redis://h:99999/0", []string{"port"}},
		{"protocol 7", "redis://h?protocol=7", []string{`"protocol"`, "2 or 3"}},
		{"read_timeout -1", "redis://h?read_timeout=-1", []string{`"read_timeout"`, "more than 0"}},
		{"read_timeout 0", "redis://h?read_timeout=0", []string{`"read_timeout"`}},
		{"dial_timeout -2s", "redis://h?dial_timeout=-2s", []string{`"dial_timeout"`}},
		{"pool_timeout not a duration", "redis://h?pool_timeout=soon", []string{`"pool_timeout"`, "duration"}},
		{"pool_size 0", "redis://h?pool_size=0", []string{`"pool_size"`, "at least 1"}},
		{"max_idle_conns negative", "redis://h?max_idle_conns=-1", []string{`"max_idle_conns"`}},
		{"max_retries -2", "redis://h?max_retries=-2", []string{`"max_retries"`}},
		{"pool_fifo yes", "redis://h?pool_fifo=yes", []string{`"pool_fifo"`, "true, false, 1 or 0"}},
		{"client_name with a space", "redis://h?client_name=a%20b", []string{`"client_name"`, "printable"}},
		{"client_name with a newline", "redis://h?client_name=a%0Ab", []string{`"client_name"`}},
		{"an option twice", "redis://h?pool_size=1&pool_size=2", []string{`"pool_size"`, "2 times"}},
		{"an alias with its option", "redis://h?idle_timeout=1s&conn_max_idle_time=2s", []string{`"conn_max_idle_time"`, `"idle_timeout"`}},
		{"jitter without a lifetime", "redis://h?conn_max_lifetime_jitter=1s", []string{`"conn_max_lifetime_jitter"`}},
		{"jitter over the lifetime", "redis://h?conn_max_lifetime=1s&conn_max_lifetime_jitter=2s", []string{`"conn_max_lifetime_jitter"`}},
		{"pipeline buffer too big", "redis://h?pipeline_read_buffer_size=1000000000", []string{`"pipeline_read_buffer_size"`}},
		{"skip_verify without TLS", "redis://h?skip_verify=true", []string{`"skip_verify"`, "rediss"}},
		{"unknown option near a known one", "redis://h?pool_szie=3", []string{"unknown query option", `"pool_size"`}},
		{"unknown option", "redis://h?zzzzzzzzzz=1", []string{"unknown query option"}},
		{"a JSON-only field", "redis://h?socket_timeout=1", []string{`"socket_timeout"`, "not one go-redis reads"}},
		{"a malformed query", "redis://h?db=%zz", []string{"query"}},
		{"a fragment", "redis://h:6379/0#x", []string{"fragment"}},
		{"no //", "redis:h:6379", []string{`"//"`}},
		{"an http URL", "http://h", []string{"scheme"}},
		{"a unix URL with a host", "unix://h/run/redis.sock", []string{"host"}},
		{"a unix URL without a path", "unix://", []string{"path"}},
		{"a bad host", "redis://h!x:1", []string{"host"}},
		{"a path of two parts", "redis://h/1/2", []string{"path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, _ := json.Marshal(map[string]string{"url": tc.url})
			c, err := ParseConfig(j)
			if err == nil {
				t.Fatalf("ParseConfig(%s) = %v; want an error", j, c)
			}
			wantConfigErr(t, string(j), err, "url", tc.says...)
		})
	}
}

// The same checks, on the JSON fields that match the URL's options.
func TestParseJSONFieldsCheckedLikeTheURL(t *testing.T) {
	tests := []struct{ name, json, field string }{
		{"client_name with a space", `{"client_name": "a b"}`, "client_name"},
		{"client_name with a control byte", `{"client_name": "a\u0001"}`, "client_name"},
		{"client_name not ASCII", `{"client_name": "caf\u00e9"}`, "client_name"},
		{"read_timeout -1", `{"read_timeout": -1}`, "read_timeout"},
		{"read_timeout -2 as a string", `{"read_timeout": "-2s"}`, "read_timeout"},
		{"pool_timeout 0", `{"pool_timeout": 0}`, "pool_timeout"},
		{"max_active_conns negative", `{"max_active_conns": -1}`, "max_active_conns"},
		{"pipeline_pool_size -2", `{"pipeline_pool_size": -2}`, "pipeline_pool_size"},
		{"pool_fifo a number", `{"pool_fifo": 1}`, "pool_fifo"},
		{"dial_retries -2", `{"dial_retries": -2}`, "dial_retries"},
		{"dial_retries a string", `{"dial_retries": "1"}`, "dial_retries"},
		{"idle_timeout with conn_max_idle_time", `{"idle_timeout": 1, "conn_max_idle_time": 2}`, "idle_timeout"},
		{"max_conn_age with conn_max_lifetime", `{"max_conn_age": 1, "conn_max_lifetime": 2}`, "max_conn_age"},
		{"jitter without a lifetime", `{"conn_max_lifetime_jitter": 1}`, "conn_max_lifetime_jitter"},
		{"skip_verify without ssl", `{"skip_verify": true}`, "skip_verify"},
		{"skip_verify with ssl_cert_reqs", `{"ssl": true, "skip_verify": true, "ssl_cert_reqs": "none"}`, "ssl_cert_reqs"},
		{"JSON field beside the url's option", `{"url": "redis://h?pool_timeout=1s", "pool_timeout": 2}`, "pool_timeout"},
		{"alias beside the url's option", `{"url": "redis://h?conn_max_idle_time=1s", "idle_timeout": 2}`, "idle_timeout"},
		{"invalid UTF-8 in a string", "{\"client_name\": \"a\xffb\"}", "client_name"},
		{"invalid UTF-8 in a password", "{\"password\": \"pw\xc3\"}", "password"},
		{"a lone high surrogate", `{"password": "a\ud800b"}`, "password"},
		{"a lone low surrogate", `{"username": "\udc00"}`, "username"},
		{"a high surrogate without its pair", `{"password": "\ud800\u0041"}`, "password"},
		{"invalid UTF-8 in a sentinel string", "{\"sentinel\": {\"master\": \"m\xff\", \"addrs\": [\"s:1\"]}}", "sentinel"},
		{"sentinel keys matched exactly", `{"sentinel": {"master": "m", "addrs": ["s:1"], "PASSWORD": "x"}}`, "sentinel"},
		{"sentinel Master", `{"sentinel": {"Master": "m", "addrs": ["s:1"]}}`, "sentinel"},
		{"sentinel key twice", `{"sentinel": {"master": "m", "master": "n", "addrs": ["s:1"]}}`, "sentinel"},
		{"sentinel master with a space", `{"sentinel": {"master": "my master", "addrs": ["s:1"]}}`, "sentinel"},
		{"a key twice", `{"host": "a", "host": "b"}`, "host"},
		{"a password twice", `{"password": "a", "port": 1, "password": "b"}`, "password"},
		{"a host with credentials", `{"host": "user:pw@h"}`, "host"},
		{"a host with an at sign", `{"host": "pw@h"}`, "host"},
		{"a socket path with credentials", `{"unix_socket_path": "user:pw@/run/r.sock"}`, "unix_socket_path"},
		{"a socket path that is a URL", `{"unix_socket_path": "unix:///run/r.sock"}`, "unix_socket_path"},
		{"an addr with credentials", `{"addr": "pw@h:1"}`, "addr"},
		{"a unix addr with credentials", `{"addr": "u:pw@/s", "network": "unix"}`, "addr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.json))
			if err == nil {
				t.Fatalf("ParseConfig(%s) = %v; want an error", tc.json, c)
			}
			wantConfigErr(t, tc.json, err, tc.field, strconv.Quote(tc.field))
		})
	}
	// Whole-document faults name no field.
	for _, j := range []string{"{\"a\xff\": 1}", `{"\ud800": 1}`, `{} {}`, `{"host": "h"} x`} {
		c, err := ParseConfig([]byte(j))
		if err == nil {
			t.Fatalf("ParseConfig(%q) = %v; want an error", j, c)
		}
		wantConfigErr(t, j, err, "")
	}
}

// Every option go-redis's ParseURL reads (options.go, setupConnParams) is either kept in the Config,
// with the value go-redis would give it, or refused.
func TestParseURLKeepsEveryGoRedisOption(t *testing.T) {
	opts := map[string]string{
		"db": "3", "protocol": "2", "client_name": "w1", "max_retries": "2", "min_retry_backoff": "20ms",
		"max_retry_backoff": "2s", "dial_timeout": "3", "read_timeout": "6s", "write_timeout": "7s",
		"pool_fifo": "true", "pool_size": "9", "pool_timeout": "4s", "min_idle_conns": "1", "max_idle_conns": "5",
		"max_active_conns": "11", "max_concurrent_dials": "2", "pipeline_pool_size": "-1",
		"pipeline_read_buffer_size": "65536", "pipeline_write_buffer_size": "32768", "conn_max_idle_time": "1m",
		"conn_max_lifetime": "1h", "conn_max_lifetime_jitter": "5m",
	}
	aliases := map[string]string{"idle_timeout": "90s", "max_conn_age": "2h"}
	for name, v := range opts {
		q := url.Values{name: {v}}
		if name == "conn_max_lifetime_jitter" {
			q.Set("conn_max_lifetime", "1h")
		}
		checkAgainstGoRedis(t, "redis://h:6380?"+q.Encode())
	}
	for name, v := range aliases {
		checkAgainstGoRedis(t, "redis://h:6380?"+name+"="+v)
	}
	checkAgainstGoRedis(t, "rediss://u:p%2Fw@h:6380/2?skip_verify=true")
	checkAgainstGoRedis(t, "unix://u:pw@/run/redis.sock?db=4")
	q := url.Values{}
	for name, v := range opts {
		q.Set(name, v)
	}
	checkAgainstGoRedis(t, "redis://h:6380?"+q.Encode())
}

// checkAgainstGoRedis parses u both ways and compares every setting go-redis's Options keeps.
func checkAgainstGoRedis(t *testing.T, u string) {
	t.Helper()
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("redis.ParseURL(%s): %v", u, err)
	}
	j, _ := json.Marshal(map[string]string{"url": u})
	c, err := ParseConfig(j)
	if err != nil {
		t.Fatalf("ParseConfig(%s): %v", j, err)
	}
	retries := o.MaxRetries
	if retries < 0 {
		retries = 0 // -1: none, conn's 0
	}
	type pair struct {
		name      string
		got, want any
	}
	skip := o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify
	for _, p := range []pair{
		{"Network", c.Network, o.Network}, {"Addr", c.Addr, o.Addr}, {"DB", c.DB, o.DB},
		{"Username", c.Username, o.Username}, {"Password", c.Password, o.Password},
		{"TLS", c.TLS != nil, o.TLSConfig != nil}, {"SkipVerify", c.TLS != nil && c.TLS.SkipVerify, skip},
		{"Protocol", c.Protocol, o.Protocol}, {"ClientName", c.ClientName, o.ClientName},
		{"MaxRetries", c.MaxRetries, retries}, {"MinRetryBackoff", c.MinRetryBackoff, o.MinRetryBackoff},
		{"MaxRetryBackoff", c.MaxRetryBackoff, o.MaxRetryBackoff}, {"DialTimeout", c.DialTimeout, o.DialTimeout},
		{"ReadTimeout", c.ReadTimeout, o.ReadTimeout}, {"WriteTimeout", c.WriteTimeout, o.WriteTimeout},
		{"PoolFIFO", c.PoolFIFO, o.PoolFIFO}, {"PoolSize", c.PoolSize, o.PoolSize},
		{"PoolTimeout", c.PoolTimeout, o.PoolTimeout}, {"MinIdleConns", c.MinIdleConns, o.MinIdleConns},
		{"MaxIdleConns", c.MaxIdleConns, o.MaxIdleConns}, {"MaxActiveConns", c.MaxActiveConns, o.MaxActiveConns},
		{"MaxConcurrentDials", c.MaxConcurrentDials, o.MaxConcurrentDials},
		{"PipelinePoolSize", c.PipelinePoolSize, o.PipelinePoolSize},
		{"PipelineReadBufferSize", c.PipelineReadBufferSize, o.PipelineReadBufferSize},
		{"PipelineWriteBufferSize", c.PipelineWriteBufferSize, o.PipelineWriteBufferSize},
		{"ConnMaxIdleTime", c.ConnMaxIdleTime, o.ConnMaxIdleTime}, {"ConnMaxLifetime", c.ConnMaxLifetime, o.ConnMaxLifetime},
		{"ConnMaxLifetimeJitter", c.ConnMaxLifetimeJitter, o.ConnMaxLifetimeJitter},
	} {
		if p.got != p.want {
			t.Fatalf("%s: %s = %v; go-redis reads %v", u, p.name, p.got, p.want)
		}
	}
}

// setting is one go-redis option, with generators of valid and invalid values in both forms.
type setting struct {
	name    string
	valid   func(r *rand.Rand) (js, q string)
	invalid func(r *rand.Rand) (js, q string)
}

func intSetting(name string, lo, hi int) setting {
	return setting{name,
		func(r *rand.Rand) (string, string) {
			n := strconv.Itoa(lo + r.IntN(min(hi-lo, 5000)+1))
			return n, n
		},
		func(r *rand.Rand) (string, string) {
			switch r.IntN(4) {
			case 0:
				n := strconv.Itoa(lo - 1 - r.IntN(100))
				return n, n
			case 1:
				if hi < 1<<30 {
					n := strconv.Itoa(hi + 1 + r.IntN(100))
					return n, n
				}
				return "4294967296", "4294967296"
			case 2:
				return "1.5", "1.5"
			}
			return `"x"`, "x"
		}}
}

func durationSetting(name string) setting {
	return setting{name,
		func(r *rand.Rand) (string, string) {
			if r.IntN(2) == 0 {
				s := strconv.Itoa(1 + r.IntN(86400)) // whole seconds: a JSON number, a URL's plain integer
				return s, s
			}
			d := (time.Duration(1+r.IntN(86400000)) * time.Millisecond).String()
			return strconv.Quote(d), d
		},
		func(r *rand.Rand) (string, string) {
			switch r.IntN(5) {
			case 0:
				return "0", "0"
			case 1:
				return "-1", "-1"
			case 2:
				return `"-2s"`, "-2s"
			case 3:
				return `"25h"`, "25h"
			}
			return `"soon"`, "soon"
		}}
}

func boolSetting(name string) setting {
	return setting{name,
		func(r *rand.Rand) (string, string) {
			b := r.IntN(2) == 0
			q := strconv.FormatBool(b)
			if r.IntN(2) == 0 {
				q = map[bool]string{true: "1", false: "0"}[b]
			}
			return strconv.FormatBool(b), q
		},
		func(r *rand.Rand) (string, string) {
			if r.IntN(2) == 0 {
				return `"yes"`, "yes"
			}
			return "2", "2"
		}}
}

var goRedisSettings = []setting{
	intSetting("db", 0, 1<<31-1),
	{"protocol",
		func(r *rand.Rand) (string, string) { n := strconv.Itoa(2 + r.IntN(2)); return n, n },
		func(r *rand.Rand) (string, string) { n := strconv.Itoa([]int{0, 1, 4, 7, -3}[r.IntN(5)]); return n, n }},
	{"client_name",
		func(r *rand.Rand) (string, string) {
			b := make([]byte, 1+r.IntN(20))
			for i := range b {
				b[i] = byte('!' + r.IntN('~'-'!'+1))
			}
			j, _ := json.Marshal(string(b))
			return string(j), string(b)
		},
		func(r *rand.Rand) (string, string) {
			s := []string{"a b", "tab\there", "caf\u00e9", "nl\n"}[r.IntN(4)]
			j, _ := json.Marshal(s)
			return string(j), s
		}},
	intSetting("max_retries", -1, 1<<31-1),
	durationSetting("min_retry_backoff"), durationSetting("max_retry_backoff"),
	durationSetting("dial_timeout"), durationSetting("read_timeout"), durationSetting("write_timeout"),
	boolSetting("pool_fifo"),
	intSetting("pool_size", 1, 1<<31-1), durationSetting("pool_timeout"),
	intSetting("min_idle_conns", 0, 1<<31-1), intSetting("max_idle_conns", 0, 1<<31-1),
	intSetting("max_active_conns", 0, 1<<31-1), intSetting("max_concurrent_dials", 0, 1<<31-1),
	intSetting("pipeline_pool_size", -1, 1<<31-1),
	intSetting("pipeline_read_buffer_size", 0, maxBuffer), intSetting("pipeline_write_buffer_size", 0, maxBuffer),
	durationSetting("conn_max_idle_time"), durationSetting("idle_timeout"),
	durationSetting("conn_max_lifetime"), durationSetting("max_conn_age"),
	boolSetting("skip_verify"),
}

// Property: for random valid settings the URL form and the JSON-field form parse to equal Configs,
// and go-redis reads the URL the same way; one invalid value gives both forms a *ConfigError naming
// the same setting.
func TestParseURLFormEqualsJSONForm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var picked []setting
		for _, s := range goRedisSettings {
			if r.IntN(4) == 0 {
				picked = append(picked, s)
			}
		}
		// One name per setting: an alias and its option together are refused, tested elsewhere.
		names := map[string]bool{}
		picked = slices.DeleteFunc(picked, func(s setting) bool {
			key := map[string]string{"idle_timeout": "conn_max_idle_time", "max_conn_age": "conn_max_lifetime"}[s.name]
			if key == "" {
				key = s.name
			}
			dup := names[key]
			names[key] = true
			return dup
		})
		bad := -1
		if len(picked) > 0 && i%2 == 1 {
			bad = r.IntN(len(picked))
		}
		host := []string{"h", "10.0.0.5", "cache-1.example.com", "::1"}[r.IntN(4)]
		port := 1 + r.IntN(65535)
		scheme, tlsField := "redis", ""
		if names["skip_verify"] {
			scheme, tlsField = "rediss", `, "ssl": true`
		}
		js := []string{fmt.Sprintf(`"host": %q, "port": %d`+tlsField, host, port)}
		q := url.Values{}
		for k, s := range picked {
			jv, qv := s.valid(r)
			if k == bad {
				jv, qv = s.invalid(r)
			}
			js = append(js, fmt.Sprintf("%q: %s", s.name, jv))
			q.Set(s.name, qv)
		}
		u := scheme + "://" + netJoin(host, port) + "?" + q.Encode()
		jsonForm := "{" + strings.Join(js, ", ") + "}"
		urlForm, _ := json.Marshal(map[string]string{"url": u})
		a, errA := ParseConfig([]byte(jsonForm))
		b, errB := ParseConfig(urlForm)
		if bad < 0 {
			if errA != nil || errB != nil {
				t.Fatalf("valid settings refused:\n%s: %v\n%s: %v", jsonForm, errA, urlForm, errB)
			}
			if a.canonical() != b.canonical() {
				t.Fatalf("forms differ:\n%s\n -> %s\n%s\n -> %s", jsonForm, a.canonical(), urlForm, b.canonical())
			}
			checkAgainstGoRedis(t, u)
			continue
		}
		name := picked[bad].name
		wantConfigErr(t, jsonForm, errA, name, strconv.Quote(name))
		wantConfigErr(t, string(urlForm), errB, "url", "query option "+strconv.Quote(name))
	}
}

func netJoin(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// Each new field reaches the Config from JSON, with the go-redis option's name.
func TestParseGoRedisOptionsAsJSON(t *testing.T) {
	c, err := ParseConfig([]byte(`{"addr": "h:1", "dial_retries": -1, "pool_fifo": true, "pool_timeout": "2s",
		"max_idle_conns": 3, "max_active_conns": 4, "max_concurrent_dials": 2, "min_retry_backoff": "5ms",
		"max_retry_backoff": 1, "max_retries": 2, "conn_max_idle_time": 60, "conn_max_lifetime": "1h",
		"conn_max_lifetime_jitter": "1m", "pipeline_pool_size": -1, "pipeline_read_buffer_size": 1024,
		"pipeline_write_buffer_size": 2048}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", DialRetries: -1, PoolFIFO: true, PoolTimeout: 2 * time.Second,
		MaxIdleConns: 3, MaxActiveConns: 4, MaxConcurrentDials: 2, MinRetryBackoff: 5 * time.Millisecond,
		MaxRetryBackoff: time.Second, MaxRetries: 2, ConnMaxIdleTime: time.Minute, ConnMaxLifetime: time.Hour,
		ConnMaxLifetimeJitter: time.Minute, PipelinePoolSize: -1, PipelineReadBufferSize: 1024, PipelineWriteBufferSize: 2048}
	if c.canonical() != want.canonical() {
		t.Fatalf("got  %s\nwant %s", c.canonical(), want.canonical())
	}
	for _, j := range []string{`{"dial_retries": 0}`, `{"max_retries": -1}`, `{"max_retries": 0}`} {
		c, err := ParseConfig([]byte(j))
		if err != nil || c.DialRetries != 0 || c.MaxRetries != 0 {
			t.Fatalf("ParseConfig(%s) = %v, %v; want conn's defaults (dial once, no retries)", j, c, err)
		}
	}
	// Shown, so a log tells the settings apart.
	if s := c.String(); !strings.Contains(s, `"pool_timeout":"2s"`) || !strings.Contains(s, `"dial_retries":-1`) {
		t.Fatalf("String() = %s; want the new settings shown", s)
	}
}
