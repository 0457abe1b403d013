package tree

import "testing"

// BenchmarkTrackerFeed follows a generated document in 4-byte chunks (about a token each); it
// reports bytes/s and the allocations per document (parameters are copied once per call).
func BenchmarkTrackerFeed(b *testing.B) {
	doc, _ := genDoc(4, testTools, 3)
	data := []byte(doc)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		tr := NewTracker()
		for p := 0; p < len(data); p += 4 {
			if _, err := tr.Feed(data[p:min(p+4, len(data))]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
