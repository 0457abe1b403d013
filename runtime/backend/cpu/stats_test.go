package cpu

import "testing"

// TestBandwidthProbe: the probe reads its buffer, again and again, and reports a rate; a
// buffer too small for one row per thread gives no probe.
func TestBandwidthProbe(t *testing.T) {
	p := NewBandwidthProbe(8<<20, 2)
	if p == nil {
		t.Fatal("no probe over 8 MiB")
	}
	if p.bytes != 8<<20 {
		t.Fatalf("probe over %d bytes, want %d", p.bytes, 8<<20)
	}
	for i := 0; i < 2; i++ {
		if bw := p.Measure(); bw <= 0 {
			t.Fatalf("measurement %d: %v bytes/s", i, bw)
		}
	}
	if p := NewBandwidthProbe(1024, 2); p != nil {
		t.Fatal("probe over 1 KiB: want none")
	}
}
