package conntest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/uniquevisits"
)

// visitHandler is an application's handler: it counts the visit of the session in the cookie.
func visitHandler(counter *uniquevisits.Counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no session", http.StatusBadRequest)
			return
		}
		v, err := counter.CountVisit(r.Context(), sid.Value)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, v.New)
	})
}

// The handler's test: 16 shard servers and the counts' server, all miniredis, in one call.
func TestVisitHandler(t *testing.T) {
	env := conntest.Start(t, nil, append(conntest.Shards("unique", 16), "unique")...)
	counter, err := uniquevisits.New(env.Registry, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := visitHandler(counter)
	for i, want := range []string{"true\n", "false\n"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Fatalf("visit %d: got %d %q; want 200 %q", i, rec.Code, rec.Body, want)
		}
	}
}

func ExampleShards() {
	fmt.Println(conntest.Shards("unique", 3))
	// Output: [unique:0 unique:1 unique:2]
}
