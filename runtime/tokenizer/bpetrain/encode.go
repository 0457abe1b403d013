package bpetrain

import "strings"

// Encode tokenizes text as the written tokenizer.json does (Hugging Face's
// encode(text, add_special_tokens=False), Arbor's Tokenizer.Encode): added tokens first, then
// Pattern, then the merges by rank, lowest first and leftmost among equals. It is a plain
// reference implementation, for tests and for checking a corpus, not a fast one.
func (r *Result) Encode(text string) []int32 {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var out []int32
	r.added.split(text, func(seg string, id int32) {
		if id >= 0 {
			out = append(out, id)
			return
		}
		splitPieces(seg, func(p string) { out = r.encodePiece(p, out) })
	})
	return out
}

func (r *Result) encodePiece(p string, out []int32) []int32 {
	if id, ok := r.ids[p]; ok && len(p) == 1 {
		return append(out, id)
	}
	syms := make([]int32, len(p))
	for i := 0; i < len(p); i++ {
		syms[i] = int32(p[i])
	}
	for len(syms) > 1 {
		best, bestRank := -1, int32(-1)
		var bestID int32
		for i := 0; i+1 < len(syms); i++ {
			m, ok := r.ranks[pairKey(syms[i], syms[i+1])]
			if ok && (best < 0 || m.rank < bestRank) {
				best, bestRank, bestID = i, m.rank, m.id
			}
		}
		if best < 0 {
			break
		}
		syms[best] = bestID
		syms = append(syms[:best+1], syms[best+2:]...)
	}
	return append(out, syms...)
}

// Decode turns ids back into text (added tokens included).
func (r *Result) Decode(ids []int32) string {
	var sb strings.Builder
	for _, id := range ids {
		switch {
		case id < 0:
		case int(id) < len(r.Vocab):
			sb.WriteString(r.Vocab[id])
		default:
			sb.WriteString(r.TokenText(id))
		}
	}
	return strings.ToValidUTF8(sb.String(), "\uFFFD")
}
