package tokenizer

import "errors"

// GGUFVocab is a tokenizer as GGUF stores it under the tokenizer.ggml.* keys (and
// tokenizer.chat_template). The model package reads and writes GGUF; this package turns a
// GGUFVocab into a Tokenizer and back.
type GGUFVocab struct {
	Model        string    // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
	Pre          string    // tokenizer.ggml.pre: pre-tokenizer name, e.g. "qwen2", "llama-bpe", "default"
	Tokens       []string  // tokenizer.ggml.tokens
	Scores       []float32 // tokenizer.ggml.scores (may be nil)
	TokenTypes   []int32   // tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
	Merges       []string  // tokenizer.ggml.merges, "a b" (BPE only)
	BOS, EOS     int32     // -1 when absent
	UNK, PAD     int32     // -1 when absent
	EOT          int32     // -1 when absent
	AddBOS       bool      // tokenizer.ggml.add_bos_token
	AddEOS       bool      // tokenizer.ggml.add_eos_token
	AddSpacePfx  bool      // tokenizer.ggml.add_space_prefix (SentencePiece)
	ChatTemplate string    // tokenizer.chat_template ("" when absent)
}

// Tokenizer is filled in by the tokenizer work (issue 2); this placeholder only fixes the API.
type Tokenizer struct{}

var errTODO = errors.New("tokenizer: not implemented yet")

// FromFile loads a tokenizer.json, and tokenizer_config.json from the same directory if present.
func FromFile(tokenizerJSON string) (*Tokenizer, error) { return nil, errTODO }

// FromBytes builds a tokenizer from the contents of tokenizer.json and tokenizer_config.json
// (config may be nil).
func FromBytes(tokenizerJSON, config []byte) (*Tokenizer, error) { return nil, errTODO }

// FromGGUF builds a tokenizer from GGUF metadata.
func FromGGUF(v *GGUFVocab) (*Tokenizer, error) { return nil, errTODO }
