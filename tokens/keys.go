package tokens

// The book's keys (Redis in Action, sections 2.1, 2.5 and 4.5).

// keyLogin maps a login token to its user. HASH
const keyLogin = "login:"

// keyRecent scores each token by when it was last seen (Unix seconds). ZSET
const keyRecent = "recent:"

// keyViewed scores the items a token viewed by when (Unix seconds), trimmed to the latest Keep. ZSET
func keyViewed(token string) string { return "viewed:" + token }

// keyViews scores every item by minus its number of views, so the most viewed come first. ZSET
const keyViews = "viewed:"
