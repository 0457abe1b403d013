package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FromFile loads a tokenizer.json, and tokenizer_config.json from the same directory if present
// (special-token names, add_bos_token, chat template), and generation_config.json if present
// (extra end-of-generation ids).
func FromFile(tokenizerJSON string) (*Tokenizer, error) {
	data, err := os.ReadFile(tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	dir := filepath.Dir(tokenizerJSON)
	config, err := readOptional(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	gen, err := readOptional(filepath.Join(dir, "generation_config.json"))
	if err != nil {
		return nil, err
	}
	t, err := fromBytes(data, config, gen)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", tokenizerJSON, err)
	}
	return t, nil
}

func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return data, nil
}

// FromBytes builds a tokenizer from the contents of tokenizer.json and tokenizer_config.json
// (config may be nil).
func FromBytes(tokenizerJSON, config []byte) (*Tokenizer, error) {
	t, err := fromBytes(tokenizerJSON, config, nil)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

type tokenizerFile struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	Model         *bpeJSON         `json:"model"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
}

type addedTokenJSON struct {
	ID         *int32 `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type bpeJSON struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	Dropout                 *float64        `json:"dropout"`
}

// tokenizerConfig is the part of tokenizer_config.json that matters here.
type tokenizerConfig struct {
	AddBOSToken  *bool           `json:"add_bos_token"`
	AddEOSToken  *bool           `json:"add_eos_token"`
	BOSToken     tokenName       `json:"bos_token"`
	EOSToken     tokenName       `json:"eos_token"`
	PadToken     tokenName       `json:"pad_token"`
	UnkToken     tokenName       `json:"unk_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
}

// tokenName is a special token named in tokenizer_config.json: a string, null, or an
// AddedToken object with a content field.
type tokenName struct{ s string }

func (n *tokenName) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		n.s = ""
		return nil
	}
	if err := json.Unmarshal(b, &n.s); err == nil {
		return nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("special token: want string or object with content: %w", err)
	}
	n.s = obj.Content
	return nil
}

type generationConfig struct {
	EOSTokenID json.RawMessage `json:"eos_token_id"`
}

func fromBytes(data, config, gen []byte) (*Tokenizer, error) {
	var f tokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	var cfg tokenizerConfig
	if len(config) > 0 {
		if err := json.Unmarshal(config, &cfg); err != nil {
			return nil, fmt.Errorf("parse tokenizer_config.json: %w", err)
		}
	}
	// The model is decoded in the same pass as the file, its vocabulary and merges (nearly all
	// of the bytes) once more each: a 10 MB tokenizer.json is read on every server start.
	if f.Model == nil {
		return nil, errors.New("tokenizer.json has no model")
	}
	mj := *f.Model
	// Old files omit the model type; a merges list means BPE.
	if mj.Type != "BPE" && !(mj.Type == "" && !isNull(mj.Merges)) {
		return nil, fmt.Errorf("unsupported model type %q (only BPE is implemented)", mj.Type)
	}
	var vocab map[string]int32
	if err := json.Unmarshal(mj.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("model: vocab: %w", err)
	}
	if (mj.ContinuingSubwordPrefix != nil && *mj.ContinuingSubwordPrefix != "") ||
		(mj.EndOfWordSuffix != nil && *mj.EndOfWordSuffix != "") {
		return nil, errors.New("model: BPE continuing_subword_prefix / end_of_word_suffix are not supported")
	}
	if mj.Dropout != nil && *mj.Dropout > 0 {
		return nil, errors.New("model: BPE dropout is not supported")
	}
	if len(vocab) == 0 {
		return nil, errors.New("model: empty vocabulary")
	}
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("model: token %q has negative id %d", tok, id)
		}
	}

	// Ids index dense tables; a corrupt file must not make us allocate gigabytes. Real
	// vocabularies have few gaps, so allow generous slack but no more.
	maxID := int32(0)
	for _, id := range vocab {
		maxID = max(maxID, id)
	}
	for _, a := range f.AddedTokens {
		if a.ID != nil {
			maxID = max(maxID, *a.ID)
		}
	}
	if limit := 2*(len(vocab)+len(f.AddedTokens)) + 1<<16; int(maxID) >= limit {
		return nil, fmt.Errorf("token id %d is implausibly large for %d tokens", maxID, len(vocab)+len(f.AddedTokens))
	}

	unk := int32(-1)
	if mj.UnkToken != nil && *mj.UnkToken != "" {
		id, ok := vocab[*mj.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model: unk_token %q not in vocabulary", *mj.UnkToken)
		}
		unk = id
	}
	m := newBPEModel(vocab, unk)
	m.fuseUnk, m.byteFallback, m.ignoreMerges = mj.FuseUnk, mj.ByteFallback, mj.IgnoreMerges
	merges, err := parseMerges(mj.Merges)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	for i, mg := range merges {
		if err := m.addMerge(mg[0], mg[1], i); err != nil {
			return nil, fmt.Errorf("model: merge %d: %w", i, err)
		}
	}

	added := make([]addedToken, 0, len(f.AddedTokens))
	for i, a := range f.AddedTokens {
		if a.ID == nil || *a.ID < 0 {
			return nil, fmt.Errorf("added_tokens[%d] %q: missing or negative id", i, a.Content)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d]: empty content", i)
		}
		added = append(added, addedToken{ID: *a.ID, Content: a.Content, Special: a.Special,
			LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord, Normalized: a.Normalized})
	}

	t := &Tokenizer{model: m}
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.decoder, err = parseDecoder(f.Decoder); err != nil {
		return nil, err
	}
	t.setVocab(vocab, added)

	// Special tokens and generation settings.
	t.bos, t.bosText = t.lookupName(cfg.BOSToken.s)
	var eos int32
	eos, t.eosText = t.lookupName(cfg.EOSToken.s)
	t.pad, _ = t.lookupName(cfg.PadToken.s)
	t.unk = unk
	if t.unk < 0 {
		t.unk, _ = t.lookupName(cfg.UnkToken.s)
	}
	// The post_processor matters only for this: Encode never adds special tokens itself, the
	// caller asks AddBOS() and prepends BOS.
	switch {
	case cfg.AddBOSToken != nil:
		t.addBOS = *cfg.AddBOSToken
	case templateAddsBOS(f.PostProcessor, cfg.BOSToken.s):
		t.addBOS = true
	default:
		// Meta's first Llama 3 tokenizer.json has no TemplateProcessing although the model
		// expects <|begin_of_text|>; a named bos_token with no explicit setting means "add it"
		// (this is also what llama.cpp assumes). Qwen names no bos_token.
		t.addBOS = t.bos >= 0
	}
	t.addEOS = cfg.AddEOSToken != nil && *cfg.AddEOSToken
	if t.chatTemplate, err = parseChatTemplate(cfg.ChatTemplate); err != nil {
		return nil, err
	}
	var genEOS []int32
	if len(gen) > 0 {
		var g generationConfig
		if err := json.Unmarshal(gen, &g); err != nil {
			return nil, fmt.Errorf("parse generation_config.json: %w", err)
		}
		if genEOS, err = parseIDList(g.EOSTokenID); err != nil {
			return nil, fmt.Errorf("generation_config.json eos_token_id: %w", err)
		}
	}
	t.eot = t.findEOT()
	t.setEOS(eos, genEOS)
	t.detectGGUF(f.Normalizer, mj)
	t.bound = t.computeBound()
	return t, nil
}

// setVocab fills the id tables from the model vocabulary and the added tokens.
func (t *Tokenizer) setVocab(vocab map[string]int32, added []addedToken) {
	size := int32(0)
	for _, id := range vocab {
		size = max(size, id+1)
	}
	for _, a := range added {
		size = max(size, a.ID+1)
	}
	t.vocab = make([]string, size)
	t.ids = make(map[string]int32, len(vocab)+len(added))
	for tok, id := range vocab {
		t.vocab[id] = tok
		t.ids[tok] = id
	}
	slices.SortStableFunc(added, func(a, b addedToken) int { return int(a.ID - b.ID) })
	t.added = added
	t.special = map[int32]bool{}
	var raw, normed []addedToken
	for _, a := range added {
		t.vocab[a.ID] = a.Content
		t.ids[a.Content] = a.ID
		if a.Special {
			t.special[a.ID] = true
		}
		if a.Normalized {
			normed = append(normed, a)
		} else {
			raw = append(raw, a)
		}
	}
	t.rawAdded = newAddedMatcher(raw)
	if len(normed) > 0 && t.normalizer != nil {
		// Compare against the normalized form of the token, as tokenizers does.
		for i := range normed {
			normed[i].Content = t.normalizer.normalize(normed[i].Content)
		}
	}
	t.normAdded = newAddedMatcher(normed)
}

func (t *Tokenizer) lookupName(name string) (int32, string) {
	if name == "" {
		return -1, ""
	}
	if id, ok := t.ids[name]; ok {
		return id, name
	}
	return -1, name
}

// templateAddsBOS reports whether a TemplateProcessing post-processor (possibly inside a
// Sequence) starts single sequences with the BOS token.
func templateAddsBOS(raw json.RawMessage, bos string) bool {
	if isNull(raw) {
		return false
	}
	var p struct {
		Type       string            `json:"type"`
		Processors []json.RawMessage `json:"processors"`
		Single     []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return false
	}
	switch p.Type {
	case "Sequence":
		for _, sub := range p.Processors {
			if templateAddsBOS(sub, bos) {
				return true
			}
		}
	case "TemplateProcessing":
		return len(p.Single) > 0 && p.Single[0].SpecialToken != nil &&
			(bos == "" || p.Single[0].SpecialToken.ID == bos)
	}
	return false
}

// parseChatTemplate accepts a string or a list of {name, template}, returning "default".
func parseChatTemplate(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", fmt.Errorf("chat_template: want string or list of {name, template}: %w", err)
	}
	for _, e := range list {
		if e.Name == "default" {
			return e.Template, nil
		}
	}
	return "", nil
}

func parseIDList(raw json.RawMessage) ([]int32, error) {
	if isNull(raw) {
		return nil, nil
	}
	var one int32
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int32{one}, nil
	}
	var many []int32
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, err
	}
	return many, nil
}

// parseMerges reads the merges list, written as "a b" strings (older files, Llama 3) or as
// ["a", "b"] pairs (tokenizers >= 0.20, Qwen3). Decoding the whole list in one go is much
// faster than element by element.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		out := make([][2]string, len(pairs))
		for i, p := range pairs {
			if len(p) != 2 {
				return nil, fmt.Errorf("merge %d has %d parts, want 2", i, len(p))
			}
			out[i] = [2]string{p[0], p[1]}
		}
		return out, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err != nil {
		return nil, fmt.Errorf("merges: want a list of \"a b\" strings or of pairs: %w", err)
	}
	out := make([][2]string, len(strs))
	for i, s := range strs {
		a, b, ok := strings.Cut(s, " ")
		if !ok {
			return nil, fmt.Errorf("merge %d %q is not two tokens separated by a space", i, s)
		}
		out[i] = [2]string{a, b}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// eogTexts are added tokens that end a turn in the chat formats of common models; like
// llama.cpp, Arbor stops on them even when generation_config.json is not at hand (Qwen's
// <|endoftext|>, Llama 3's <|eot_id|> and <|eom_id|>).
var eogTexts = []string{"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|endoftext|>", "<|end_of_text|>",
	"<|end|>", "<end_of_turn>", "<|return|>"}

// findEOT picks the end-of-turn token for GGUF's eot_token_id.
func (t *Tokenizer) findEOT() int32 {
	for _, s := range []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"} {
		if id, ok := t.ids[s]; ok && t.special[id] {
			return id
		}
	}
	return -1
}

func (t *Tokenizer) setEOS(primary int32, extra []int32) {
	t.eos = nil
	add := func(id int32) {
		if id >= 0 && int(id) < len(t.vocab) && !slices.Contains(t.eos, id) {
			t.eos = append(t.eos, id)
		}
	}
	add(primary)
	for _, id := range extra {
		add(id)
	}
	add(t.eot)
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok && t.special[id] {
			add(id)
		}
	}
	if primary >= 0 {
		t.eosText = t.vocab[primary]
	}
}

// detectGGUF decides how the tokenizer is written as GGUF: byte-level BPE is llama.cpp's
// "gpt2" model; BPE over ▁-words with byte fallback is its "llama" (SentencePiece) model.
func (t *Tokenizer) detectGGUF(normRaw json.RawMessage, mj bpeJSON) {
	switch {
	case t.pre.byteLevel || t.hasByteLevelDecoder():
		t.ggufModel = "gpt2"
		t.ggufPre = "default"
		for _, st := range t.pre.steps {
			if sp, ok := st.(*splitStep); ok {
				switch sp.expr {
				case qwen2Pattern:
					t.ggufPre = "qwen2"
				case llama3Pattern:
					t.ggufPre = "llama-bpe"
				}
			}
		}
	case mj.ByteFallback || strings.Contains(string(normRaw), "▁") || strings.Contains(string(normRaw), `\u2581`):
		t.ggufModel = "llama"
		t.addSpacePfx = strings.Contains(string(normRaw), `"Prepend"`)
		for _, st := range t.pre.steps {
			if ms, ok := st.(*metaspaceStep); ok && ms.prepend != "never" {
				t.addSpacePfx = true
			}
		}
	}
}

func (t *Tokenizer) hasByteLevelDecoder() bool {
	var walk func(d decoder) bool
	walk = func(d decoder) bool {
		switch x := d.(type) {
		case byteLevelDecoder:
			return true
		case decoderSeq:
			for _, y := range x {
				if walk(y) {
					return true
				}
			}
		}
		return false
	}
	return t.decoder != nil && walk(t.decoder)
}
