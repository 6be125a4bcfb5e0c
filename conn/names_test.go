package conn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// hostPlaces are the fields that name a server, each with %s where an IPv6 zone goes.
var hostPlaces = []struct{ field, json string }{
	{"host", `{"host": "fe80::1%%s"}`},
	{"addr", `{"addr": "[fe80::1%%s]:6379"}`},
	{"url", `{"url": "redis://[fe80::1%25%s]:6379"}`},
	{"cluster", `{"cluster": ["10.0.0.1:7000", "[fe80::1%%s]:7000"]}`},
	{"sentinel", `{"sentinel": {"master": "m", "addrs": ["[fe80::1%%s]:26379"]}}`},
	{"ssl_server_name", `{"host": "h", "ssl": true, "ssl_server_name": "fe80::1%%s"}`},
}

// mark stands for a secret: no 4 bytes of it occur in conn's own text.
const mark = "Qx7Zk9W"

func zoneDoc(place int, zone string, inURL bool) []byte {
	p := hostPlaces[place]
	lit := zone
	if inURL {
		lit = strings.NewReplacer("%", "%25", " ", "%20", "/", "%2F", "?", "%3F", "#", "%23", "@", "%40", ":", "%3A").Replace(zone)
	}
	j, _ := json.Marshal(lit)
	return []byte(strings.Replace(p.json, "%s", string(j[1:len(j)-1]), 1))
}

// An IPv6 zone is an interface name: credentials, spaces, control characters or a long text in one
// are refused in every field that names a server, by a *ConfigError naming the field and quoting
// nothing of the zone. Interface names are kept.
func TestZoneIsAnInterfaceName(t *testing.T) {
	bad := []string{
		"redis://admin:Qx7Zk9W@10.0.0.5", "admin:Qx7Zk9W@10.0.0.5", "Qx7Zk9W with spaces", "\x1b[2J\n",
		"Qx7Zk9W/x", "a%b", "Qx7Zk9W\x00", "caf\u00e9", "eth0:1", "a]:1@h", "0123456789abcdef",
	}
	good := []string{"eth0", "en0", "lo", "1", "wlp2s0", "br-1234abcd5678", "eth0.100", "veth_a-b"}
	for place, p := range hostPlaces {
		for _, zone := range bad {
			doc := zoneDoc(place, zone, p.field == "url")
			_, err := ParseConfig(doc)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != p.field || !errors.Is(err, ErrBadConfig) {
				t.Errorf("%s: %v; want a *ConfigError naming %s", doc, err, p.field)
				continue
			}
			// A bracket ends the address, and url.Parse refuses some zones itself: refused either way.
			if p.field != "url" && !strings.ContainsAny(zone, "[]") && !strings.Contains(err.Error(), "zone") {
				t.Errorf("%s: %v; want it to say the zone is wrong", doc, err)
			}
			if strings.Contains(zone, mark) {
				noPiece(t, string(doc), errorOutputs(err, ce), mark)
			} else if strings.Contains(err.Error(), zone) {
				t.Errorf("%s: %v quotes the zone", doc, err)
			}
		}
		for _, zone := range good {
			doc := zoneDoc(place, zone, p.field == "url")
			c, err := ParseConfig(doc)
			if err != nil {
				t.Errorf("%s: %v; want an interface name accepted", doc, err)
				continue
			}
			if s := fmt.Sprintf("%s %v", c.Addr, c.Addrs); p.field != "ssl_server_name" && !strings.Contains(s, "%"+zone+"]") {
				t.Errorf("%s: addresses %s; want the zone kept", doc, s)
			}
		}
	}
}

// Property: over zones drawn from every byte class, a config is accepted exactly when its zone is
// 1 to 15 ASCII letters, digits, '-', '_' and '.', in every field that names a server.
func TestPropertyZones(t *testing.T) {
	const classes = "abcXYZ019-_." + ":@/?#% \t\x00\x7f\"\\[]" + "\u00e9\u00a0"
	r := rand.New(rand.NewPCG(7, 9))
	runes := []rune(classes)
	for range 3000 {
		var b strings.Builder
		for range 1 + r.IntN(20) {
			if r.IntN(4) == 0 {
				b.WriteRune(runes[12+r.IntN(len(runes)-12)])
			} else {
				b.WriteRune(runes[r.IntN(12)])
			}
		}
		zone := b.String()
		want := len(zone) <= maxZone && nameBytes(zone)
		place := r.IntN(len(hostPlaces))
		p := hostPlaces[place]
		doc := zoneDoc(place, zone, p.field == "url")
		_, err := ParseConfig(doc)
		if (err == nil) != want {
			t.Fatalf("%s: %v; want accepted %v", doc, err, want)
		}
		var ce *ConfigError
		if err != nil && (!errors.As(err, &ce) || ce.Field != p.field) {
			t.Fatalf("%s: %v; want a *ConfigError naming %s", doc, err, p.field)
		}
	}
}

// A sentinel master name is Sentinel's charset: a URL, credentials, or anything Sentinel names never
// hold is refused, naming "sentinel" and quoting nothing of it; nothing of it is ever printed.
func TestSentinelMasterName(t *testing.T) {
	for _, name := range []string{
		"redis://:Qx7Zk9W@10.0.0.5:26379/mymaster", "admin:Qx7Zk9W", "Qx7Zk9W/mymaster", "Qx7Zk9W@mymaster",
		"my master", "m\u00a0Qx7Zk9W", "Qx7Zk9W\x1b[2J", "Qx7Zk9W?x=1", "Qx7Zk9W#frag", "Qx7Zk9W%41",
	} {
		doc := fmt.Sprintf(`{"sentinel": {"master": %s, "addrs": ["10.0.0.5:26379"]}}`, jsonString(name))
		c, err := ParseConfig([]byte(doc))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "sentinel" || !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v (config %v); want a *ConfigError naming sentinel", doc, err, c)
			continue
		}
		noPiece(t, doc, errorOutputs(err, ce), mark)
	}
	for _, name := range []string{"mymaster", "m", "cache-1", "a.b_c", "MASTER01"} {
		doc := fmt.Sprintf(`{"sentinel": {"master": %q, "addrs": ["10.0.0.5:26379"]}}`, name)
		if c, err := ParseConfig([]byte(doc)); err != nil || c.Master != name {
			t.Errorf("%s: %v, %v; want the name accepted", doc, c, err)
		}
	}
}

// A Config built by hand with a name ParseConfig would refuse prints none of it, and cannot make a
// client.
func TestHandBuiltNamesMasked(t *testing.T) {
	const secret = "Qx7Zk9WHand"
	for _, c := range []Config{
		{Kind: KindSentinel, Master: "redis://:" + secret + "@h:26379/m", Addrs: []string{"h:26379"}},
		{Kind: KindSentinel, Master: "m", Addrs: []string{"[fe80::1%" + secret + "@h]:26379"}},
		{Kind: KindSingle, Network: "tcp", Addr: "[fe80::1%a:" + secret + "]:6379"},
		{Kind: KindCluster, Addrs: []string{"h:1", "[fe80::1%" + secret + " x]:2"}},
	} {
		noPiece(t, "a hand-built config", shown(t, &c), secret)
		if client, err := c.NewClient(); err == nil {
			client.Close()
			t.Errorf("NewClient of a hand-built config with a bad name succeeded")
		} else {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("NewClient: %v; want a *ConfigError", err)
			}
			noPiece(t, "NewClient's error", errorOutputs(err, ce), secret)
		}
	}
}
