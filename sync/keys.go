package sync

// waitKey is the book's sync:wait: token -> unix time (seconds, fractional) it was written. ZSET
const waitKey = "sync:wait"
