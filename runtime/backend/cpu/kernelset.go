package cpu

import (
	"fmt"
	"strings"
)

// kernelFlags are the CPU features the kernels dispatch on. Every kernel checks them at each
// call, so switching them between forward passes switches the kernels; the weights' layout in
// memory is the same for every set.
type kernelFlags struct {
	avx2, avxvnni, vnni, vbmi, neon, sdot bool
}

func currentFlags() kernelFlags {
	return kernelFlags{avx2: hasAVX2, avxvnni: hasAVXVNNI, vnni: hasVNNI, vbmi: hasVBMI, neon: hasNEON, sdot: hasSDOT}
}

func (f kernelFlags) set() {
	hasAVX2, hasAVXVNNI, hasVNNI, hasVBMI, hasNEON, hasSDOT = f.avx2, f.avxvnni, f.vnni, f.vbmi, f.neon, f.sdot
}

func (f kernelFlags) name() string {
	switch {
	case f.avx2 && f.vnni && f.vbmi:
		return "avx512vnni+vbmi+avx2+fma+f16c"
	case f.avx2 && f.vnni:
		return "avx512vnni+avx2+fma+f16c"
	case f.avx2 && f.avxvnni:
		return "avxvnni+avx2+fma+f16c"
	case f.avx2:
		return "avx2+fma+f16c"
	case f.neon && f.sdot:
		return "neon+dotprod"
	case f.neon:
		return "neon"
	}
	return "portable"
}

// startFlags are the features found at start-up (less those the environment turned off:
// ARBOR_NO_VNNI, ARBOR_NO_VBMI, ARBOR_NO_AVXVNNI).
var startFlags = currentFlags()

// lowerSets are the kernel sets below f, each dropping the most specific feature left: VBMI,
// then VNNI (and the AVX-512 kernels with it), then AVX-VNNI, then the assembly altogether; on
// arm64 the dot-product extension, then NEON.
func (f kernelFlags) lowerSets() []kernelFlags {
	sets := []kernelFlags{f}
	for {
		switch {
		case f.vbmi:
			f.vbmi = false
		case f.vnni:
			f.vnni = false
		case f.avxvnni:
			f.avxvnni = false
		case f.avx2:
			f.avx2 = false
		case f.sdot:
			f.sdot = false
		case f.neon:
			f.neon = false
		default:
			return sets
		}
		sets = append(sets, f)
	}
}

// KernelSets lists the kernel sets this process can run, the one it starts with (KernelSet at
// start-up) first and "portable" last: on a Zen 5, "avx512vnni+vbmi+avx2+fma+f16c",
// "avx512vnni+avx2+fma+f16c", "avxvnni+avx2+fma+f16c", "avx2+fma+f16c", "portable". The
// AVX-512, AVX-VNNI and AVX2 sets give the same q8_0 products bit for bit; attention's scores
// differ between the AVX-512 sets and the others by rounding, and the portable kernels differ
// from the assembly by rounding too (their integer sums agree).
func KernelSets() []string {
	var names []string
	for _, f := range startFlags.lowerSets() {
		names = append(names, f.name())
	}
	return names
}

// UseKernelSet switches the kernels to the named set, one of KernelSets, and returns a
// function that switches back to the set before the call. It changes what every Backend of
// the process runs, so it must only be called between forward passes, never during one: `arbor
// bench --alternate` alternates sets decode step by decode step this way, to compare them
// under the same moment's memory bandwidth.
func UseKernelSet(name string) (restore func(), err error) {
	for _, f := range startFlags.lowerSets() {
		if f.name() == name {
			before := currentFlags()
			f.set()
			return before.set, nil
		}
	}
	return nil, fmt.Errorf("kernel set %q: this CPU runs %s", name, strings.Join(KernelSets(), ", "))
}
