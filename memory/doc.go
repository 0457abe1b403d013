// Package memory holds HEMA-style long-conversation memory: sessions that belong to the API key
// that created them, their turns, a compact running summary and a vector memory of chunks with
// int8 embeddings and retrieval history.
//
// Store is the interface the server will use; BadgerStore implements it on an embedded Badger
// database, with every acknowledged turn written in one synced transaction. Embedding and
// retrieval live in the subpackages; the server does not use memory yet.
package memory
