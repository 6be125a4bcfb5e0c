// Package writes tests that client retries apply no write twice (issue 5, item 3); its code is all in _test.go files.
package writes
