package market

// The book's keys (Redis in Action, section 4.4.1). Python's redis-py code can share the dataset.

// keyMarket is the market: every listing, member "<item>.<seller>", score the price. ZSET
const keyMarket = "market:"

// keyUser is a user's record; the field "funds" holds their money as an integer ("name" too, unused
// here). HASH
func keyUser(id string) string { return "users:" + id }

// keyInventory is the item ids a user owns. SET
func keyInventory(id string) string { return "inventory:" + id }

// fieldFunds is the users:<id> field holding the user's money.
const fieldFunds = "funds"

// member is a listing's member in market:.
func member(item, seller string) string { return item + "." + seller }
