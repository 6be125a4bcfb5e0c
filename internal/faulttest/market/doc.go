// Package market is the marketplace's fault test (issue 5, item 1); its code is all in _test.go files.
package market
