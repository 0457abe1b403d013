package bpetrain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// TokenizerJSON returns the tokenizer as a Hugging Face tokenizer.json: a BPE model with the
// byte-level vocabulary and the merges (as [a, b] pairs, the form of tokenizers >= 0.20, which
// Arbor reads as well as "a b" strings), the added tokens, no normalizer, a Sequence of a Split
// on Pattern and a ByteLevel step without its own regex (as Qwen3's file has), and ByteLevel
// post-processor and decoder.
func (r *Result) TokenizerJSON() ([]byte, error) {
	type addedJSON struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	byteLevelStep := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	var added []addedJSON
	for i, s := range r.Specials {
		added = append(added, addedJSON{ID: int32(len(r.Vocab) + i), Content: s, Special: true})
	}
	for i, s := range r.Tokens {
		added = append(added, addedJSON{ID: int32(len(r.Vocab) + len(r.Specials) + i), Content: s})
	}
	if added == nil {
		added = []addedJSON{}
	}
	merges := make([][2]string, len(r.Merges))
	for i, m := range r.Merges {
		merges[i] = [2]string{byteLevel(r.Vocab[m[0]]), byteLevel(r.Vocab[m[1]])}
	}
	file := struct {
		Version       string         `json:"version"`
		Truncation    any            `json:"truncation"`
		Padding       any            `json:"padding"`
		AddedTokens   []addedJSON    `json:"added_tokens"`
		Normalizer    any            `json:"normalizer"`
		PreTokenizer  map[string]any `json:"pre_tokenizer"`
		PostProcessor map[string]any `json:"post_processor"`
		Decoder       map[string]any `json:"decoder"`
		Model         any            `json:"model"`
	}{
		Version:     "1.0",
		AddedTokens: added,
		PreTokenizer: map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": Pattern}, "behavior": "Isolated", "invert": false},
			byteLevelStep,
		}},
		PostProcessor: byteLevelStep,
		Decoder:       byteLevelStep,
		Model: struct {
			Type                    string       `json:"type"`
			Dropout                 any          `json:"dropout"`
			UnkToken                any          `json:"unk_token"`
			ContinuingSubwordPrefix string       `json:"continuing_subword_prefix"`
			EndOfWordSuffix         string       `json:"end_of_word_suffix"`
			FuseUnk                 bool         `json:"fuse_unk"`
			ByteFallback            bool         `json:"byte_fallback"`
			IgnoreMerges            bool         `json:"ignore_merges"`
			Vocab                   orderedVocab `json:"vocab"`
			Merges                  [][2]string  `json:"merges"`
		}{Type: "BPE", Vocab: orderedVocab(r.Vocab), Merges: merges},
	}
	return marshal(file)
}

// orderedVocab writes the BPE vocabulary as a JSON object in id order (encoding/json would
// sort a map's keys).
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, raw := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		k, err := marshalCompact(byteLevel(raw))
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// TokenizerConfigJSON returns tokenizer_config.json: the chat template, the bos and eos token
// names (bos may be "", written as null; both must be among Specials), pad_token
// "<|endoftext|>" when that is a special other than eos (else null), add_bos_token false, the
// added tokens by id, and the specials other than bos and eos as additional_special_tokens.
func (r *Result) TokenizerConfigJSON(chatTemplate string, bos, eos string) ([]byte, error) {
	name := func(s, what string) (any, error) {
		if s == "" {
			return nil, nil
		}
		if !slices.Contains(r.Specials, s) {
			return nil, fmt.Errorf("bpetrain: %s token %q is not one of the specials", what, s)
		}
		return s, nil
	}
	bosName, err := name(bos, "bos")
	if err != nil {
		return nil, err
	}
	if eos == "" {
		return nil, fmt.Errorf("bpetrain: no eos token")
	}
	eosName, err := name(eos, "eos")
	if err != nil {
		return nil, err
	}
	var pad any
	if eos != "<|endoftext|>" && slices.Contains(r.Specials, "<|endoftext|>") {
		pad = "<|endoftext|>"
	}
	type addedJSON struct {
		Content    string `json:"content"`
		LStrip     bool   `json:"lstrip"`
		Normalized bool   `json:"normalized"`
		RStrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
		Special    bool   `json:"special"`
	}
	decoder := map[string]addedJSON{} // encoding/json writes the keys sorted as strings
	var extra []string
	for i, s := range r.Specials {
		decoder[strconv.Itoa(len(r.Vocab)+i)] = addedJSON{Content: s, Special: true}
		if s != bos && s != eos {
			extra = append(extra, s)
		}
	}
	for i, s := range r.Tokens {
		decoder[strconv.Itoa(len(r.Vocab)+len(r.Specials)+i)] = addedJSON{Content: s}
	}
	if extra == nil {
		extra = []string{}
	}
	cfg := struct {
		AddBOSToken               bool                 `json:"add_bos_token"`
		AddPrefixSpace            bool                 `json:"add_prefix_space"`
		AddedTokensDecoder        map[string]addedJSON `json:"added_tokens_decoder"`
		AdditionalSpecialTokens   []string             `json:"additional_special_tokens"`
		BOSToken                  any                  `json:"bos_token"`
		ChatTemplate              string               `json:"chat_template,omitempty"`
		CleanUpTokenizationSpaces bool                 `json:"clean_up_tokenization_spaces"`
		EOSToken                  any                  `json:"eos_token"`
		Errors                    string               `json:"errors"`
		PadToken                  any                  `json:"pad_token"`
		SplitSpecialTokens        bool                 `json:"split_special_tokens"`
		TokenizerClass            string               `json:"tokenizer_class"`
		UnkToken                  any                  `json:"unk_token"`
	}{
		AddedTokensDecoder:      decoder,
		AdditionalSpecialTokens: extra,
		BOSToken:                bosName,
		ChatTemplate:            chatTemplate,
		EOSToken:                eosName,
		Errors:                  "replace",
		PadToken:                pad,
		TokenizerClass:          "PreTrainedTokenizerFast",
	}
	return marshal(cfg)
}

// marshal writes v as indented JSON without HTML escaping (so "<|im_end|>" stays readable).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("bpetrain: %w", err)
	}
	return b.Bytes(), nil
}

func marshalCompact(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
