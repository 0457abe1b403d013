package retrieve

import (
	"math"
	"slices"
)

// Salience holds the parameters of HEMA's forgetting score
//
//	w = Lambda * exp(-Gamma * age) + Beta * recentlyRetrieved
//
// where age is in turns since the chunk was written and recentlyRetrieved is 1 if the chunk
// was retrieved recently (what "recently" means is the caller's policy; a count or a decayed
// value works too).
type Salience struct {
	Lambda, Gamma, Beta float64
}

// DefaultSalience is the setting: lambda 1.0, gamma 0.002 per turn, beta 0.5. With
// it an unretrieved chunk's weight halves in about 350 turns (ln 2 / 0.002), and a recent
// retrieval adds a flat 0.5, as much as a new chunk loses in those 350 turns.
var DefaultSalience = Salience{Lambda: 1.0, Gamma: 0.002, Beta: 0.5}

// Weight returns the salience of a chunk of the given age (turns) and retrieval signal.
func (s Salience) Weight(age, recentlyRetrieved float64) float64 {
	return s.Lambda*math.Exp(-s.Gamma*age) + s.Beta*recentlyRetrieved
}

// ChunkState is what forgetting needs to know about a chunk.
type ChunkState struct {
	ID                string
	Age               float64 // turns since the chunk was written
	RecentlyRetrieved float64 // 1 if retrieved recently, else 0 (or a graded value)
}

// ForgetFraction is the share of chunks dropped at each forgetting pass (0.5%).
const ForgetFraction = 0.005

// Forget picks the floor(fraction * len(chunks)) chunks of lowest salience under
// DefaultSalience; see Salience.Forget.
func Forget(chunks []ChunkState, fraction float64) []string {
	return DefaultSalience.Forget(chunks, fraction)
}

// Forget returns the ids of the floor(fraction * len(chunks)) chunks with the lowest
// weight, lowest first; ties go to the older chunk, then the smaller id, so the pick is
// deterministic. Rounding down means a session under 200 chunks forgets nothing at 0.5%:
// small memories are cheap to keep. When to forget (the issue says every 100 turns) is the
// caller's policy.
func (s Salience) Forget(chunks []ChunkState, fraction float64) []string {
	if !(fraction > 0) {
		return nil
	}
	n := int(math.Floor(fraction * float64(len(chunks))))
	n = min(n, len(chunks))
	if n == 0 {
		return nil
	}
	type scored struct {
		w float64
		c *ChunkState
	}
	all := make([]scored, len(chunks))
	for i := range chunks {
		all[i] = scored{s.Weight(chunks[i].Age, chunks[i].RecentlyRetrieved), &chunks[i]}
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.w < b.w:
			return -1
		case a.w > b.w:
			return 1
		case a.c.Age > b.c.Age:
			return -1
		case a.c.Age < b.c.Age:
			return 1
		case a.c.ID < b.c.ID:
			return -1
		case a.c.ID > b.c.ID:
			return 1
		}
		return 0
	})
	out := make([]string, n)
	for i := range out {
		out[i] = all[i].c.ID
	}
	return out
}
