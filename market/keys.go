package market

import (
	"fmt"
	"strings"
)

// The market's keys (Redis in Action, section 4.4.1). With no hash tag they are the book's, so
// Python's redis-py code can share the dataset; with a tag t each starts with "{t}", so all of them
// hash to t's Redis Cluster slot (and to one Ring shard).

// keys builds the key names of one layout. The zero value is the book's.
type keys struct {
	prefix string // "" or "{tag}"
}

// newKeys checks tag (Options.HashTag) and returns its layout.
func newKeys(tag string) (keys, error) {
	if tag == "" {
		return keys{}, nil
	}
	// Redis and go-redis take the tag between the first "{" and the next "}": a "}" inside would
	// end it early, and a "{" would make the key read differently by eye than by the server.
	if strings.ContainsAny(tag, "{}") {
		return keys{}, &HashTagError{Tag: tag}
	}
	return keys{prefix: "{" + tag + "}"}, nil
}

// market is every listing, member "<item>.<seller>", score the price. ZSET
func (k keys) market() string { return k.prefix + "market:" }

// user is a user's record; the field "funds" holds their money as an integer ("name" too, unused
// here). HASH
func (k keys) user(id string) string { return k.prefix + "users:" + id }

// inventory is the item ids a user owns. SET
func (k keys) inventory(id string) string { return k.prefix + "inventory:" + id }

// tagged reports whether the layout shares one slot (a hash tag is set).
func (k keys) tagged() bool { return k.prefix != "" }

// fieldFunds is the users:<id> field holding the user's money.
const fieldFunds = "funds"

// member is a listing's member in market:.
func member(item, seller string) string { return item + "." + seller }

// HashTagError is the error NewWatch and NewScript return for an Options.HashTag that cannot be a
// Redis Cluster hash tag. It names the field and matches ErrBadOption.
type HashTagError struct {
	Tag string // the value as given
}

func (e *HashTagError) Error() string {
	return fmt.Sprintf("%s.HashTag is %q: %v: want a tag without \"{\" or \"}\" (or \"\" for the book's keys)",
		optionsOf.Type, e.Tag, ErrBadOption)
}

func (e *HashTagError) Unwrap() error { return ErrBadOption }
