// Package writes tests that go-redis's retries never apply a non-idempotent write twice; its code is all in _test.go files.
package writes
