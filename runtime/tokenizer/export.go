package tokenizer

// What a tokenizer trainer needs of the tokenizer's own pieces, so that training splits and
// maps bytes exactly as encoding will (runtime/tokenizer/bpetrain).

// QwenPattern is the pre-tokenizer regex of Qwen2, Qwen2.5 and Qwen3: every number character
// is a piece of its own, so no merge can join two digits.
const QwenPattern = qwen2Pattern

var qwenMatcher = knownPattern(qwen2Pattern).(*splitMatcher)

// SplitQwen calls fn with each piece of s under QwenPattern, left to right (the pieces cover s),
// with the hand-written matcher every Qwen request goes through.
func SplitQwen(s string, fn func(piece string)) {
	for i := 0; i < len(s); {
		j := qwenMatcher.matchAt(s, i)
		fn(s[i:j])
		i = j
	}
}

// ByteLevel maps raw bytes to their byte-level characters (GPT-2's bytes_to_unicode table), as
// a ByteLevel pre-tokenizer does and as tokenizer.json writes vocabularies and merges.
func ByteLevel(s string) string { return byteLevelString(s) }

// FromByteLevel returns the bytes a byte-level text stands for, and false if a character is not
// in the table (a ByteLevel decoder then leaves the text as it is).
func FromByteLevel(s string) (string, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := runeToByte[r]
		if !ok {
			return s, false
		}
		out = append(out, b)
	}
	return string(out), true
}
