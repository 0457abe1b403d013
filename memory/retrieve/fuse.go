package retrieve

import (
	"math"
	"slices"
)

// RRFK is the reciprocal-rank-fusion constant from Cormack, Clarke and Büttcher (2009);
// 60 damps the difference between the first few ranks so that neither list dominates.
const RRFK = 60

// Fused is one fused result: its RRF score and its 1-based rank in each input ranking
// (0 where the ranking does not contain it).
type Fused struct {
	ID    string
	Score float64
	Ranks []int
}

// Fuse combines rankings (each best first, ids unique within a ranking) by reciprocal-rank
// fusion: score(d) = sum over rankings of 1/(k + rank(d)), rank counted from 1. It returns
// every id that appears anywhere, best first; ties go to the id with the better best rank,
// then the smaller id. k <= 0 means RRFK.
func Fuse(k int, rankings ...[]string) []Fused {
	if k <= 0 {
		k = RRFK
	}
	idx := map[string]int{}
	var out []Fused
	for r, ranking := range rankings {
		for i, id := range ranking {
			j, ok := idx[id]
			if !ok {
				j = len(out)
				idx[id] = j
				out = append(out, Fused{ID: id, Ranks: make([]int, len(rankings))})
			}
			if out[j].Ranks[r] != 0 {
				continue // a repeated id keeps its first (best) rank
			}
			out[j].Ranks[r] = i + 1
			out[j].Score += 1 / float64(k+i+1)
		}
	}
	slices.SortFunc(out, func(a, b Fused) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		if ba, bb := bestRank(a.Ranks), bestRank(b.Ranks); ba != bb {
			return ba - bb
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func bestRank(ranks []int) int {
	best := math.MaxInt
	for _, r := range ranks {
		if r > 0 && r < best {
			best = r
		}
	}
	return best
}
