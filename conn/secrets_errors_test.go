package conn

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// noPiece fails if any output holds a 4-byte piece of secret, in any of its encoded forms. The
// secrets used with it are picked so that no piece occurs in conn's fixed text.
func noPiece(t *testing.T, what string, outs []string, secret string) {
	t.Helper()
	all := pointers.ReplaceAllString(strings.Join(outs, "\n"), "0xPTR") // %#v prints heap addresses
	for _, form := range encodings([]byte(secret)) {
		for i := 0; i+4 <= len(form); i++ {
			if g := form[i : i+4]; strings.Contains(all, g) {
				t.Fatalf("%s shows %q, a piece of the secret %q:\n%s", what, g, secret, all)
			}
		}
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// A password with '/', '?' or '#' (common in base64) breaks a URL; the error said
// `invalid port ":Zx9Q" after host`. It now names the part, shows nothing of the password, and says
// how to write one.
func TestSecretsURLPasswordWithReservedCharacters(t *testing.T) {
	for _, secret := range []string{"Zx9Q/kq+Lm==", "Zx9Q?kq+Lm==", "Zx9Q#kq+Lm==", "Zx9Q%kq+Lm==", "Zx9Q kq+Lm=="} {
		for _, u := range []string{
			"redis://default:" + secret + "@10.0.0.5:6379",
			"rediss://default:" + secret + "@10.0.0.5:6380/1",
			"redis://" + secret + "@10.0.0.5",
			"unix://default:" + secret + "@/run/redis.sock",
		} {
			doc := `{"url": ` + jsonString(u) + `}`
			outs, ok := secretOutputs(t, []byte(doc))
			if ok {
				noPiece(t, doc, outs, secret)
				continue
			}
			noPiece(t, doc, outs, secret)
			_, err := ParseConfig([]byte(doc))
			wantConfigErr(t, doc, err, "url")
			if !strings.Contains(err.Error(), "%2F") {
				t.Fatalf("%s: error %q does not say how to write the password", doc, err)
			}
		}
	}
	// Escaped, the same password parses, to what go-redis reads.
	u := "redis://default:" + url.PathEscape("Zx9Q/kq+Lm==") + "@10.0.0.5:6379"
	c, err := ParseConfig([]byte(`{"url": ` + jsonString(u) + `}`))
	if err != nil || c.Password != "Zx9Q/kq+Lm==" || c.Username != "default" || c.Addr != "10.0.0.5:6379" {
		t.Fatalf("escaped password: %v, %v", c, err)
	}
}

// A URL with credentials pasted into a field that names a server was printed whole.
func TestSecretsPastedIntoServerFields(t *testing.T) {
	const secret = "Zx9Q/kq+Lm=="
	for _, cred := range []string{
		"redis://default:" + secret + "@10.0.0.5:6379", "default:" + secret + "@10.0.0.5:6379",
		"rediss://default:" + url.PathEscape(secret) + "@h:6380", url.PathEscape(secret) + "@h:1",
	} {
		v := jsonString(cred)
		for _, doc := range []string{
			`{"addr": ` + v + `}`,
			`{"addr": ` + v + `, "network": "unix"}`,
			`{"cluster": ["a:1", ` + v + `]}`,
			`{"sentinel": {"master": "m", "addrs": [` + v + `]}}`,
			`{"host": ` + v + `}`,
			`{"unix_socket_path": ` + v + `}`,
		} {
			outs, ok := secretOutputs(t, []byte(doc))
			if ok {
				t.Fatalf("ParseConfig(%s) accepted credentials as a server name", doc)
			}
			noPiece(t, doc, outs, secret)
		}
	}
}

// A password holding '"' or '\' is shown escaped by %q and JSON, which masking that searched for
// the raw password missed. No error quotes a value now, so no form of it appears.
func TestSecretsEscapedFormsNeverShown(t *testing.T) {
	for _, secret := range []string{`Zx9Q"kq\Lm==`, "Zx9Q\tkq\u00e9Lm\u2028", "Zx9Q\x01kq\x7fLm"} {
		v := jsonString(secret)
		for _, doc := range []string{
			`{"password": ` + v + `, "port": "x"}`,
			`{"password": ` + v + `, "hots": 1}`,
			`{"sentinel": {"master": "m", "addrs": ["s"], "password": ` + v + `}}`,
			`{"sentinel": {"master": "m", "addrs": ["s:1"], "password": ` + v + `, "x": 1}}`,
			`{"ssl_password": ` + v + `}`,
			`{"password": ` + v + `, "addr": ` + v + `}`,
			`{"url": ` + jsonString("redis://u:"+secret+"@h:6379/0") + `}`,
			`{"url": ` + jsonString("redis://u:"+url.QueryEscape(secret)+"@h:x/0") + `}`,
			`{"url": ` + jsonString("redis://u:"+url.PathEscape(secret)+"@h/0?client_name=%20"+url.QueryEscape(secret)) + `}`,
			`{"url": ` + jsonString("redis://h/0?"+url.QueryEscape(secret)+"=1") + `}`,
			`{"url": ` + jsonString("redis://h/0?db="+url.QueryEscape(secret)) + `}`,
			`{"url": ` + jsonString(secret) + `}`,
			`{"ssl_cert_reqs": ` + v + `, "ssl": true}`,
			`{"read_timeout": ` + v + `}`,
			`{` + v + `: 1}`,
		} {
			outs, ok := secretOutputs(t, []byte(doc))
			if ok {
				t.Fatalf("ParseConfig(%s) succeeded", doc)
			}
			// The unknown key's name is shown (it is a key, not a value): skip that one's field.
			if strings.HasPrefix(doc, `{"Zx9Q`) {
				if !strings.Contains(outs[0], strconv.Quote(secret)) {
					t.Fatalf("unknown key not named: %s", outs[0])
				}
				continue
			}
			noPiece(t, doc, outs, secret)
		}
	}
}

// A URL whose user part is a token (redis://TOKEN@host): String masks user names as well.
func TestSecretsUserNamesMasked(t *testing.T) {
	const secret = "Zx9QkqLmTok3n"
	for _, doc := range []string{
		`{"url": "redis://` + secret + `@h:6379"}`,
		`{"url": "rediss://` + secret + `:` + secret + `@h:6380/0"}`,
		`{"host": "h", "username": "` + secret + `"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"], "username": "` + secret + `"}}`,
	} {
		outs, ok := secretOutputs(t, []byte(doc))
		if !ok {
			t.Fatalf("ParseConfig(%s) failed: %s", doc, outs[0])
		}
		noPiece(t, doc, outs, secret)
	}
}

// A Config built by hand with credentials pasted into an address prints none of them.
func TestSecretsHandBuiltAddrs(t *testing.T) {
	const secret = "Zx9QkqLmHand"
	for _, c := range []Config{
		{Kind: KindSingle, Network: "tcp", Addr: "redis://user:" + secret + "@h:6379"},
		{Kind: KindCluster, Addrs: []string{"h:1", "u:" + secret + "@h:2"}},
		{Kind: KindSentinel, Master: "m", Addrs: []string{secret + "@h:26379"}},
	} {
		var b strings.Builder
		fmt.Fprintf(&b, "%v %+v %#v %s %q\n", c, c, c, c, c)
		fmt.Fprintf(&b, "%v\n", &c)
		j, _ := json.Marshal(c)
		b.Write(j)
		slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "c", c)
		noPiece(t, c.Addr, []string{b.String()}, secret)
	}
}
