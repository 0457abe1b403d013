package cpu

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// tune holds the decode path's measured constants, which the kernels and the product dispatch
// read at every call. Their defaults are what the 2-core Zen 5 measured best (see the comments
// where each is read); other CPUs may want others. ARBOR_TUNE sets them for a whole process
// ("name=value,..."), and `arbor bench --alternate name=value,...` compares settings decode
// step by decode step in one run. They sit alone on their cache lines (the padding): as plain
// package variables they shared lines with other data, and the same comparison (pairs-scales,
// eight sequences of qwen2.5-0.5b) came out 1 to 2% one way in one build and 3 to 4% the other
// way in the next, whose only change was the default's value (which moved the variable from the
// linker's initialised data to its zeroed data). Padded, it comes out the same whichever side
// is the default (q8PairsScales).
var tune = struct {
	_                   [64]byte
	onePrefetchWide     int // bytes: q8OnePrefetch, wide matrices
	onePrefetchNarrow   int // bytes, at least: q8OnePrefetch, narrow matrices (and at least a group)
	narrowStride        int // bytes: the widest group stride of a narrow matrix
	pairsPrefetchGroups int // groups: q8PairsPrefetch
	pairsScales         int // 1: q8PairsScales on narrow matrices; 0: never
	streamRows          int // rows: the most each of runVec's and q8Run1x4's four streams covers in a call
	decodePieces        int // pieces a worker's share of a one-token product is cut into, at most
	pieceRows           int // rows: the unit of a decode product's pieces
	pieceWork           int // multiply-adds: the most a piece of a several-token decode product takes
	padTokens           int // tokens: the fewest left over from runs of eight that are padded (padRun; 0: by kernel set, 8: never)
	_                   [64]byte
}{
	onePrefetchWide:     512,
	onePrefetchNarrow:   8192,
	narrowStride:        12 << 10,
	pairsPrefetchGroups: 2,
	pairsScales:         1,
	streamRows:          256,
	decodePieces:        4,
	pieceRows:           32,
	pieceWork:           1 << 24,
	padTokens:           0,
}

// Tunable is one of the decode path's constants that can be set between forward passes.
type Tunable struct {
	Name    string
	Doc     string
	Default int
	Min     int // the smallest value allowed
	Max     int // the largest
	Step    int // values are multiples of it
	v       *int
}

// Value is the tunable's value now.
func (t *Tunable) Value() int { return *t.v }

var tunables = []*Tunable{
	{Name: "one-prefetch-wide", v: &tune.onePrefetchWide, Min: 0, Max: 1 << 20, Step: 64,
		Doc: "bytes ahead that one token's q8_0 kernels prefetch each weight stream of a wide matrix"},
	{Name: "one-prefetch-narrow", v: &tune.onePrefetchNarrow, Min: 0, Max: 1 << 20, Step: 64,
		Doc: "bytes ahead that one token's q8_0 kernels prefetch each weight stream of a narrow matrix (at least a group)"},
	{Name: "narrow-stride", v: &tune.narrowStride, Min: 0, Max: 1 << 24, Step: 1,
		Doc: "the widest group stride, in bytes, of a q8_0 matrix taken as narrow (a group is 8 rows: 272 bytes per 32 columns)"},
	{Name: "pairs-prefetch-groups", v: &tune.pairsPrefetchGroups, Min: 0, Max: 16, Step: 1,
		Doc: "groups ahead that the eight-token q8_0 kernel prefetches its two weight streams"},
	{Name: "pairs-scales", v: &tune.pairsScales, Min: 0, Max: 1, Step: 1,
		Doc: "1: the eight-token q8_0 kernel prefetches narrow matrices' scales as well; 0: never"},
	{Name: "stream-rows", v: &tune.streamRows, Min: 8, Max: 1 << 16, Step: 8,
		Doc: "the most rows each of one token's four weight streams covers in one kernel call"},
	{Name: "decode-pieces", v: &tune.decodePieces, Min: 1, Max: 64, Step: 1,
		Doc: "the pieces a worker's share of a one-token product is cut into, at most (they shrink towards its end)"},
	{Name: "piece-rows", v: &tune.pieceRows, Min: 8, Max: 4096, Step: 8,
		Doc: "the rows a decode product's pieces are multiples of (and the fewest a piece takes)"},
	{Name: "piece-work", v: &tune.pieceWork, Min: 1 << 12, Max: 1 << 30, Step: 1,
		Doc: "the most multiply-adds a piece of a several-token decode product takes"},
	{Name: "pad-tokens", v: &tune.padTokens, Min: 0, Max: 8, Step: 1,
		Doc: "the fewest tokens left over from runs of eight that a q8_0 product takes through its eight-token kernel, padded to eight (two or three to four where a four-token byte kernel runs; 0: what each kernel set measured best; 8: never)"},
}

// tuneEnvErr is what went wrong with ARBOR_TUNE's settings, applied at start-up; New returns
// it, so that a mistyped setting fails loudly instead of running with the defaults.
var tuneEnvErr error

func init() {
	for _, t := range tunables {
		t.Default = *t.v
	}
	if spec := os.Getenv("ARBOR_TUNE"); spec != "" {
		if _, err := SetTunables(spec); err != nil {
			tuneEnvErr = fmt.Errorf("ARBOR_TUNE: %w", err)
		}
	}
}

// Tunables lists the tunables (copies: changing one changes nothing), with their values now.
func Tunables() []Tunable {
	out := make([]Tunable, len(tunables))
	for i, t := range tunables {
		out[i] = *t
	}
	return out
}

// TunablesChanged says which tunables differ from their defaults, as "name=value,..." in
// Tunables' order; "" when none do.
func TunablesChanged() string {
	var parts []string
	for _, t := range tunables {
		if *t.v != t.Default {
			parts = append(parts, fmt.Sprintf("%s=%d", t.Name, *t.v))
		}
	}
	return strings.Join(parts, ",")
}

// SetTunables sets the tunables that spec names ("name=value,...") and returns a function
// that sets them back to their values before the call. An unknown name, a value that is not a
// whole number, or one outside the tunable's range or off its step is an error, and then
// nothing is changed. Like UseKernelSet it changes what every Backend of the process runs, so
// it must only be called between forward passes.
func SetTunables(spec string) (restore func(), err error) {
	type change struct {
		t *Tunable
		v int
	}
	var changes []change
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("tunable %q: want name=value", f)
		}
		t := findTunable(strings.TrimSpace(name))
		if t == nil {
			return nil, fmt.Errorf("tunable %q: unknown; the tunables are %s", name, tunableNames())
		}
		v, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("tunable %s: value %q is not a whole number", t.Name, val)
		}
		if v < t.Min || v > t.Max || v%t.Step != 0 {
			return nil, fmt.Errorf("tunable %s: %d is outside %d..%d or not a multiple of %d", t.Name, v, t.Min,
				t.Max, t.Step)
		}
		changes = append(changes, change{t, v})
	}
	if len(changes) == 0 {
		return nil, fmt.Errorf("tunables %q: none named", spec)
	}
	before := make([]change, len(changes))
	for i, c := range changes {
		before[i] = change{c.t, *c.t.v}
		*c.t.v = c.v
	}
	return func() {
		for i := len(before) - 1; i >= 0; i-- {
			*before[i].t.v = before[i].v
		}
	}, nil
}

func findTunable(name string) *Tunable {
	for _, t := range tunables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func tunableNames() string {
	names := make([]string, len(tunables))
	for i, t := range tunables {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}
