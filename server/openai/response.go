package openai

import "github.com/arborlabs/arbor/runtime/engine"

// Chat responses and stream chunks.
type (
	ChatResponse = Response[ChatChoice]
	ChatChoice   struct {
		Index        int           `json:"index"`
		Message      ChatMessage   `json:"message"`
		Logprobs     *ChatLogprobs `json:"logprobs"`
		FinishReason string        `json:"finish_reason"`
	}
	ChatMessage struct {
		Role             string     `json:"role"`
		Content          *string    `json:"content"`
		ReasoningContent *string    `json:"reasoning_content,omitempty"`
		Reasoning        *string    `json:"reasoning,omitempty"`
		ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	}
	ToolCall struct {
		ID       string       `json:"id"`
		Type     string       `json:"type"`
		Function FunctionCall `json:"function"`
	}
	FunctionCall struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	ChatLogprobs struct {
		Content []ChatLogprob `json:"content"`
	}

	ChatChunk       = Response[ChatChunkChoice]
	ChatChunkChoice struct {
		Index        int           `json:"index"`
		Delta        ChunkDelta    `json:"delta"`
		Logprobs     *ChatLogprobs `json:"logprobs"`
		FinishReason *string       `json:"finish_reason"`
	}
	ChunkDelta struct {
		Role             string          `json:"role,omitempty"`
		Content          *string         `json:"content,omitempty"`
		ReasoningContent *string         `json:"reasoning_content,omitempty"`
		Reasoning        *string         `json:"reasoning,omitempty"`
		ToolCalls        []ChunkToolCall `json:"tool_calls,omitempty"`
	}
	ChunkToolCall struct {
		Index    int           `json:"index"`
		ID       string        `json:"id,omitempty"`
		Type     string        `json:"type,omitempty"`
		Function ChunkFunction `json:"function"`
	}
	ChunkFunction struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}
)

// Completions responses and stream chunks.
type (
	CompletionResponse = Response[CompletionChoice]
	CompletionChoice   struct {
		Index        int                 `json:"index"`
		Text         string              `json:"text"`
		Logprobs     *CompletionLogprobs `json:"logprobs"`
		FinishReason *string             `json:"finish_reason"`
	}
	// CompletionLogprobs is the legacy logprobs shape: parallel arrays, and the alternatives
	// as one {token: logprob} object per position.
	CompletionLogprobs struct {
		Tokens        []string             `json:"tokens"`
		TokenLogprobs []float64            `json:"token_logprobs"`
		TopLogprobs   []map[string]float64 `json:"top_logprobs"`
		TextOffset    []int                `json:"text_offset"`
	}
)

// NewCompletionLogprobs is an empty CompletionLogprobs whose arrays encode as [], not null.
func NewCompletionLogprobs() *CompletionLogprobs {
	return &CompletionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{},
		TextOffset: []int{}}
}

// Response is a response object or a stream chunk of either endpoint. Usage is always set on
// a whole response, and only on a stream's last chunk.
type Response[C any] struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []C    `json:"choices"`
	Usage   *Usage `json:"usage,omitempty"`
}

// ChatLogprob is one entry of choices[].logprobs.content.
type ChatLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs"`
}

// TopLogprob is one alternative of a ChatLogprob.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Usage is OpenAI's usage object.
type Usage struct {
	PromptTokens        int            `json:"prompt_tokens"`
	CompletionTokens    int            `json:"completion_tokens"`
	TotalTokens         int            `json:"total_tokens"`
	PromptTokensDetails *PromptDetails `json:"prompt_tokens_details,omitempty"`
	// Task-tree requests only: the most tokens one choice held in the KV cache at once
	// (prompt included), the tokens pruned from it, and the tool calls run inside the decode.
	KVPeakTokens *int `json:"kv_peak_tokens,omitempty"`
	PrunedTokens *int `json:"pruned_tokens,omitempty"`
	ToolCalls    *int `json:"tool_calls,omitempty"`
	// AttendedShare is, over the decode steps of the request's choices, the context slots
	// attended to over those available: below 1 where sparse attention skipped pages. Only
	// for requests that ran with sparse attention (AddAttention).
	AttendedShare *float64 `json:"attended_share,omitempty"`
	// Requests to a session only: the prompt tokens that the session's memory added (its
	// summary and the retrieved chunks), and the retrieved chunks put into the prompt.
	MemoryTokens    *int `json:"memory_tokens,omitempty"`
	RetrievedChunks *int `json:"retrieved_chunks,omitempty"`
}

// AddAttention sets AttendedShare when any choice ran with sparse attention and the backend
// reported its context (a share of nothing means nothing).
func (u *Usage) AddAttention(results []*engine.Result) {
	var attended, context int64
	sparse := false
	for _, r := range results {
		if r != nil {
			sparse = sparse || r.SparseAttention
			attended += r.AttendedTokens
			context += r.ContextTokens
		}
	}
	if sparse && context > 0 {
		share := float64(attended) / float64(context)
		u.AttendedShare = &share
	}
}

// AddTree adds the task-tree figures: the KV peak is the largest of the choices', the others
// are sums.
func (u *Usage) AddTree(results []*engine.Result) {
	var peak, pruned, calls int
	for _, r := range results {
		if r != nil {
			peak = max(peak, r.KVPeakTokens)
			pruned += r.PrunedTokens
			calls += r.Calls
		}
	}
	u.KVPeakTokens, u.PrunedTokens, u.ToolCalls = &peak, &pruned, &calls
}

// PromptDetails is usage's prompt_tokens_details.
type PromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}
