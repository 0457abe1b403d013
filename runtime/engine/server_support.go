package engine

// NewFedStream returns a Stream together with the functions that feed it, for generators other
// than the engine that must hand out the same Stream type (the server's scripted test generator,
// which plays tool-call output the random demo model never produces). send queues an event (one
// with Done set closes the stream); fail ends the stream with an error. Both never block.
func NewFedStream() (st *Stream, send func(Event), fail func(error)) {
	st = newStream()
	return st, st.send, st.fail
}
