package conn

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sameNamed checks that every Config field whose name the go-redis options struct also has carries
// over unchanged, except those conn maps on purpose.
func sameNamed(t *testing.T, i int, cfg *Config, opts any) {
	t.Helper()
	cv, ov := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(opts).Elem()
	for j := range cv.NumField() {
		name := cv.Type().Field(j).Name
		switch name {
		case "MaxRetries", "TLS", "Kind":
			continue // mapped: see maxRetries and tlsConfig
		}
		of := ov.FieldByName(name)
		if !of.IsValid() {
			continue
		}
		if !reflect.DeepEqual(of.Interface(), cv.Field(j).Interface()) {
			t.Fatalf("config %d (%v): %T.%s differs from Config.%s", i, cfg.Kind, opts, name, name)
		}
	}
	o := ov
	if got := o.FieldByName("MaxRetries").Int(); (cfg.MaxRetries == 0 && got != -1) || (cfg.MaxRetries > 0 && got != int64(cfg.MaxRetries)) {
		t.Fatalf("config %d: MaxRetries %d for Config.MaxRetries %d; want -1 for none", i, got, cfg.MaxRetries)
	}
	if !o.FieldByName("ContextTimeoutEnabled").Bool() {
		t.Fatalf("config %d: ContextTimeoutEnabled off", i)
	}
	if got, want := o.FieldByName("DialerRetries").Int(), int64(cfg.dialerRetries()); got != want {
		t.Fatalf("config %d: DialerRetries %d; want %d", i, got, want)
	}
	tc := o.FieldByName("TLSConfig").Interface()
	if (cfg.TLS == nil) != reflect.ValueOf(tc).IsNil() {
		t.Fatalf("config %d: TLS %v but TLSConfig %v", i, cfg.TLS != nil, tc)
	}
}

// sameOptions compares two go-redis options structs field by field: functions (a Dialer) and
// interfaces (a push processor) are made per client, so only their presence and type count, and TLS
// counts by what it verifies.
func sameOptions(a, b any) string {
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range av.NumField() {
		f := av.Type().Field(i)
		if !f.IsExported() || f.Type.Kind() == reflect.Func {
			continue
		}
		x, y := av.Field(i).Interface(), bv.Field(i).Interface()
		if f.Name == "TLSConfig" {
			tx, ty := av.Field(i), bv.Field(i)
			if tx.IsNil() != ty.IsNil() {
				return f.Name
			}
			if tx.IsNil() {
				continue
			}
			for _, n := range []string{"ServerName", "MinVersion", "InsecureSkipVerify"} {
				if !reflect.DeepEqual(tx.Elem().FieldByName(n).Interface(), ty.Elem().FieldByName(n).Interface()) {
					return f.Name + "." + n
				}
			}
			if tx.Elem().FieldByName("VerifyConnection").IsNil() != ty.Elem().FieldByName("VerifyConnection").IsNil() {
				return f.Name + ".VerifyConnection"
			}
			continue
		}
		if f.Type.Kind() == reflect.Interface { // made per client (a push processor): same kind of thing
			if reflect.TypeOf(x) != reflect.TypeOf(y) {
				return f.Name
			}
			continue
		}
		if !reflect.DeepEqual(x, y) {
			return f.Name
		}
	}
	return ""
}

// For generated configs of every kind: the Options method of the config's kind returns the options
// NewClient's client is made from (the same client options, once go-redis has filled its defaults),
// each Config field carried over; the other kinds' methods return ErrKind; insecure TLS is refused
// unless the AllowInsecure form is used.
func TestOptionsAreNewClientsOptions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, uint64(time.Now().UnixNano())))
	for i := range 150 {
		cfg := (&genConfig{r: r}).config()
		// No pool sized in the billions and no idle connections dialed in the background.
		cfg.PoolSize, cfg.MinIdleConns = min(cfg.PoolSize, 64), 0
		if cfg.TLS != nil { // no files to read here: client_files_test.go reads real ones
			cfg.TLS.CAFile, cfg.TLS.CAPath, cfg.TLS.CertFile, cfg.TLS.KeyFile = "", "", "", ""
		}
		single, errSingle := cfg.Options()
		cluster, errCluster := cfg.ClusterOptions()
		failover, errFailover := cfg.FailoverOptions()
		errs := map[Kind]error{KindSingle: errSingle, KindCluster: errCluster, KindSentinel: errFailover}
		for k, err := range errs {
			switch {
			case k != cfg.Kind && !errors.Is(err, ErrKind):
				t.Fatalf("config %d (%v): %v options: %v; want ErrKind", i, cfg.Kind, k, err)
			case k == cfg.Kind && cfg.Insecure() && !errors.Is(err, ErrInsecureTLS):
				t.Fatalf("config %d (%v): insecure TLS: %v; want ErrInsecureTLS", i, cfg.Kind, err)
			case k == cfg.Kind && !cfg.Insecure() && err != nil:
				t.Fatalf("config %d (%v): %v", i, cfg.Kind, err)
			}
		}
		if cfg.Insecure() {
			var err error
			switch cfg.Kind {
			case KindSingle:
				single, err = cfg.OptionsAllowInsecure()
			case KindCluster:
				cluster, err = cfg.ClusterOptionsAllowInsecure()
			case KindSentinel:
				failover, err = cfg.FailoverOptionsAllowInsecure()
			}
			if err != nil {
				t.Fatalf("config %d (%v): AllowInsecure: %v", i, cfg.Kind, err)
			}
		}
		client, err := cfg.NewClientAllowInsecure()
		if err != nil {
			t.Fatalf("config %d: NewClientAllowInsecure: %v", i, err)
		}
		switch cfg.Kind {
		case KindSingle:
			sameNamed(t, i, cfg, single)
			mine := redis.NewClient(single)
			if d := sameOptions(client.(*redis.Client).Options(), mine.Options()); d != "" {
				t.Fatalf("config %d: NewClient's client differs in %s", i, d)
			}
			mine.Close()
		case KindCluster:
			sameNamed(t, i, cfg, cluster)
			mine := redis.NewClusterClient(cluster)
			if d := sameOptions(client.(*redis.ClusterClient).Options(), mine.Options()); d != "" {
				t.Fatalf("config %d: NewClient's client differs in %s", i, d)
			}
			mine.Close()
		case KindSentinel:
			sameNamed(t, i, cfg, failover)
			if failover.MasterName != cfg.Master || !reflect.DeepEqual(failover.SentinelAddrs, cfg.Addrs) {
				t.Fatalf("config %d: sentinel master or addresses differ", i)
			}
			mine := redis.NewFailoverClient(failover)
			if d := sameOptions(client.(*redis.Client).Options(), mine.Options()); d != "" {
				t.Fatalf("config %d: NewClient's client differs in %s", i, d)
			}
			mine.Close()
		}
		client.Close()
	}
}

// Each call returns options of its own: changing them changes neither the Config nor the next call's.
func TestOptionsAreCopies(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"cluster": ["a:1", "b:2"]}`))
	if err != nil {
		t.Fatal(err)
	}
	o, err := cfg.ClusterOptions()
	if err != nil {
		t.Fatal(err)
	}
	o.Addrs[0] = "changed:1"
	again, _ := cfg.ClusterOptions()
	if cfg.Addrs[0] != "a:1" || again.Addrs[0] != "a:1" {
		t.Fatalf("changing the options changed the config: %v, %v", cfg.Addrs, again.Addrs)
	}
}
