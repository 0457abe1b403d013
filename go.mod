module github.com/arborlabs/arbor

go 1.26.8
