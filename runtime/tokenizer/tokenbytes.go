package tokenizer

// TokenBytes returns the raw bytes token id stands for in generated text: byte-level BPE tokens
// through the inverse of GPT-2's byte map, SentencePiece tokens with ▁ as a space and <0xNN> as
// the byte. Special (control) tokens, unknown ids and empty vocabulary slots return nil. The
// concatenation of the TokenBytes of ordinary tokens is what Decode returns for them, except
// for the leading space a SentencePiece decoder strips from the first token of a text.
func (t *Tokenizer) TokenBytes(id int32) []byte {
	if id < 0 || int(id) >= len(t.vocab) || t.special[id] || t.vocab[id] == "" {
		return nil
	}
	toks := []string{t.vocab[id]}
	if t.decoder != nil {
		toks = tokenDecode(t.decoder, toks)
	}
	n := 0
	for _, s := range toks {
		n += len(s)
	}
	if n == 0 {
		return nil
	}
	out := make([]byte, 0, n)
	for _, s := range toks {
		out = append(out, s...)
	}
	return out
}

// tokenDecode runs a decoder chain on one token as it would run inside a longer text: the
// steps that only strip the start of a whole text (Strip, Metaspace's prefix space) are skipped.
func tokenDecode(d decoder, toks []string) []string {
	switch d := d.(type) {
	case decoderSeq:
		for _, x := range d {
			toks = tokenDecode(x, toks)
		}
		return toks
	case stripDecoder:
		return toks
	case metaspaceDecoder:
		d.stripFirst = false
		return d.decode(toks)
	}
	return d.decode(toks)
}
