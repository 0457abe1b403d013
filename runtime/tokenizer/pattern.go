package tokenizer

// The pre-tokenizer regexes of the tokenizers Arbor serves. Every request runs through one of
// them, so they get hand-written matchers (checked against regexp2 by FuzzPattern).
const (
	// gpt2Pattern is ByteLevel's built-in split (use_regex: true) and GGUF pre "default"/"gpt2".
	gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// qwen2Pattern is Qwen2/Qwen2.5/Qwen3's Split regex (GGUF pre "qwen2").
	qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// llama3Pattern is Llama 3's Split regex (GGUF pre "llama-bpe"): digits in runs of up to 3.
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

func knownPattern(expr string) matcher { return nil }
