// Package memory holds HEMA-style long-conversation memory: sessions that belong to the API key
// that created them, their turns, a compact running summary and a vector memory of chunks with
// int8 embeddings and retrieval history.
//
// Store is the interface the server uses (through memory/session); BadgerStore implements it
// on an embedded Badger database, with every acknowledged turn written in one synced
// transaction. Embedding, retrieval, summaries, prompt assembly and the serving of one request
// to a session live in the subpackages.
package memory
