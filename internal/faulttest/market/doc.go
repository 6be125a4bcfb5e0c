// Package market runs the marketplace (book 4.4) under network faults and audits it against a ledger; its code is all in _test.go files.
package market
