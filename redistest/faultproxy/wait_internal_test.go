package faultproxy

import (
	"slices"
	"testing"
	"time"
)

func TestWaitUntilNeverEarly(t *testing.T) {
	const d = 135500 * time.Nanosecond
	var late []time.Duration
	for range 200 {
		due := time.Now().Add(d)
		waitUntil(due, nil)
		l := time.Since(due)
		if l < 0 {
			t.Fatalf("waitUntil returned %v early", -l)
		}
		late = append(late, l)
	}
	slices.Sort(late)
	t.Logf("margin %v; lateness median %v, p90 %v, max %v", spinMargin(), late[100], late[180], late[199])
}
