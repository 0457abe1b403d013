package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// chatMessage is one message of a chat request.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatRequest is the subset of OpenAI's request body that the benchmark sends.
type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []chatMessage  `json:"messages"`
	MaxTokens     int            `json:"max_tokens"`
	Temperature   float64        `json:"temperature"`
	Seed          *int64         `json:"seed,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`

	// Structured output and task trees (the soak): sent as given when set.
	ResponseFormat  json.RawMessage `json:"response_format,omitempty"`
	ReasoningFormat json.RawMessage `json:"reasoning_format,omitempty"`
	Tools           json.RawMessage `json:"tools,omitempty"`
}

// chunk is the subset of a chat.completion.chunk (or an error event) that the benchmark reads.
type chunk struct {
	Choices []struct {
		Delta struct {
			Content          *string           `json:"content"`
			ReasoningContent *string           `json:"reasoning_content"`
			ToolCalls        []json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		ToolCalls int `json:"tool_calls"` // task trees: tool calls run inside the decode
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// outcome classifies one request.
type outcome int

const (
	outcomeOK        outcome = iota
	outcomeRejected          // 429 with a Retry-After header: the queue was full
	outcomeError             // anything else that went wrong (including a 429 without Retry-After)
	outcomeAbandoned         // the client hung up on purpose (pressure run)
)

// result is what one streaming request measured.
type result struct {
	outcome    outcome
	status     int           // HTTP status (0: no response)
	err        string        // for errors: what went wrong
	retryAfter time.Duration // for 429s: the server's Retry-After

	ttft   time.Duration   // request sent to first non-empty delta
	itls   []time.Duration // between consecutive non-empty deltas
	e2e    time.Duration   // request sent to [DONE]
	start  time.Time       // when the request was sent
	end    time.Time       // when it finished (any outcome)
	chunks int             // non-empty deltas received

	finish           string // finish_reason
	promptTokens     int    // from usage
	completionTokens int    // from usage
	cachedTokens     int    // usage.prompt_tokens_details.cached_tokens; -1 when absent
	toolCalls        int    // usage.tool_calls (task trees)
	hasUsage         bool
}

// streamChat sends one streaming chat completion and reads it to the end. abandonAfter > 0 makes
// the client hang up after that many non-empty deltas (a client that disconnects mid-stream).
// It never returns an error: what went wrong is in the result.
func streamChat(ctx context.Context, hc *http.Client, url string, req chatRequest, abandonAfter int) result {
	req.Stream = true
	req.StreamOptions = &streamOptions{IncludeUsage: true}
	body, err := json.Marshal(req)
	if err != nil {
		return result{outcome: outcomeError, err: err.Error()}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return result{outcome: outcomeError, err: err.Error()}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "text/event-stream")

	res := result{start: time.Now(), cachedTokens: -1}
	fail := func(format string, args ...any) result {
		res.outcome = outcomeError
		res.err = fmt.Sprintf(format, args...)
		res.end = time.Now()
		return res
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return fail("request: %v", err)
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
				res.outcome = outcomeRejected
				res.retryAfter = time.Duration(s) * time.Second
				res.end = time.Now()
				return res
			}
			return fail("429 without a valid Retry-After header (%q): %s", resp.Header.Get("Retry-After"),
				bytes.TrimSpace(msg))
		}
		return fail("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fail("Content-Type %q, want text/event-stream", ct)
	}

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	var last time.Time
	done := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == ':' {
			continue // event separator or SSE comment
		}
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // event:, id:, retry: fields carry nothing the benchmark needs
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			done = true
			break
		}
		now := time.Now()
		var c chunk
		if err := json.Unmarshal(data, &c); err != nil {
			return fail("bad chunk %q: %v", truncate(data, 200), err)
		}
		if c.Error != nil {
			return fail("error event in the stream: %s (%s)", c.Error.Message, c.Error.Type)
		}
		for _, ch := range c.Choices {
			d := ch.Delta
			text := (d.Content != nil && *d.Content != "") ||
				(d.ReasoningContent != nil && *d.ReasoningContent != "") || len(d.ToolCalls) > 0
			if text {
				if res.chunks == 0 {
					res.ttft = now.Sub(res.start)
				} else {
					res.itls = append(res.itls, now.Sub(last))
				}
				last = now
				res.chunks++
			}
			if ch.FinishReason != nil {
				res.finish = *ch.FinishReason
			}
		}
		if u := c.Usage; u != nil {
			res.hasUsage = true
			res.promptTokens, res.completionTokens, res.toolCalls = u.PromptTokens, u.CompletionTokens, u.ToolCalls
			if u.PromptTokensDetails != nil {
				res.cachedTokens = u.PromptTokensDetails.CachedTokens
			}
		}
		if abandonAfter > 0 && res.chunks >= abandonAfter {
			cancel()
			res.outcome = outcomeAbandoned
			res.end = time.Now()
			return res
		}
	}
	if err := sc.Err(); err != nil {
		return fail("reading the stream: %v", err)
	}
	if !done {
		return fail("stream ended without data: [DONE]")
	}
	if !res.hasUsage {
		return fail("no usage chunk although stream_options.include_usage was set")
	}
	if res.finish == "" {
		return fail("no finish_reason")
	}
	res.end = time.Now()
	res.e2e = res.end.Sub(res.start)
	res.outcome = outcomeOK
	return res
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// reply is what one non-streaming request got.
type reply struct {
	status     int           // HTTP status; 0 when no answer came (err says why)
	err        string        // a transport error, or for a non-200 answer its error message
	dur        time.Duration // from sending the request to the end of the answer
	retryAfter bool          // a 429 carried a valid Retry-After header
	// From a 200 chat completion:
	finish           string
	content          string
	completionTokens int
}

// postChat sends body (JSON, or deliberately not) to /v1/chat/completions without streaming and
// reads the whole answer. It never returns an error: what went wrong is in the reply.
func postChat(ctx context.Context, hc *http.Client, url string, body []byte) reply {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return reply{err: err.Error()}
	}
	hr.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := hc.Do(hr)
	if err != nil {
		return reply{err: "request: " + err.Error(), dur: time.Since(start)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	r := reply{status: resp.StatusCode, dur: time.Since(start)}
	if err != nil {
		r.err = "reading the answer: " + err.Error()
		return r
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
		r.retryAfter = err == nil && s >= 0
	}
	if resp.StatusCode != http.StatusOK {
		var e chunk
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			r.err = e.Error.Message
		} else {
			r.err = truncate(bytes.TrimSpace(data), 200)
		}
		return r
	}
	var c struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		r.err = fmt.Sprintf("bad chat completion %q: %v", truncate(data, 200), err)
		return r
	}
	if len(c.Choices) == 0 || c.Choices[0].FinishReason == "" {
		r.err = fmt.Sprintf("no choice with a finish_reason in %q", truncate(data, 200))
		return r
	}
	r.finish, r.content = c.Choices[0].FinishReason, c.Choices[0].Message.Content
	r.completionTokens = c.Usage.CompletionTokens
	return r
}

// getText fetches url and returns the body of a 200 answer.
func getText(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return string(b), nil
}

// errNoModel is returned when /v1/models lists nothing.
var errNoModel = errors.New("/v1/models lists no model")

// firstModel returns the first id that /v1/models lists.
func firstModel(ctx context.Context, hc *http.Client, url string) (string, error) {
	body, err := getText(ctx, hc, url+"/v1/models")
	if err != nil {
		return "", err
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		return "", fmt.Errorf("/v1/models: %w", err)
	}
	if len(list.Data) == 0 {
		return "", errNoModel
	}
	return list.Data[0].ID, nil
}
