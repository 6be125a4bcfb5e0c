package shard

import "testing"

func BenchmarkKey(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Key("unique:2024-03-01", "x123456789012345", 2097152, 512, Python3); err != nil {
			b.Fatal(err)
		}
	}
}
