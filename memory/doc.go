// Package memory will hold HEMA-style long-conversation memory: sessions, a compact running
// summary and a vector memory stored in Badger. Nothing is implemented yet.
package memory
