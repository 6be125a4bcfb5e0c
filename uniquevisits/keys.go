package uniquevisits

import "time"

// Key names, the book's (section 9.2.2 and 10.2.2), so Go and the book's Python share one dataset.

// DateLayout is the date in the keys: Python's date.isoformat().
const DateLayout = "2006-01-02"

// Day is t's date as the keys spell it, in t's location (the book uses the local date.today()).
func Day(t time.Time) string { return t.Format(DateLayout) }

// countKey is the day's count of unique visitors, INCRed on the unsharded server. STRING (integer)
func countKey(day string) string { return "unique:" + day }

// expectedKey is the number of visitors the day's sets are sized for, set once with SETNX. STRING (integer)
func expectedKey(day string) string { return "unique:" + day + ":expected" }

// setBase is the base of the day's sharded sets, unique:<date>:<shard> (built by shard.Key). SET of ids
func setBase(day string) string { return "unique:" + day }

// hllKey is the HyperLogLog variant's counter for the day; outside unique:<date>:* so it can never be
// taken for a shard. STRING (HyperLogLog)
func hllKey(day string) string { return "unique:hll:" + day }
