package dataset

// Regenerate the committed fixtures (needs Debian's python3-sklearn and
// Fashion-MNIST in .data/fashion-mnist, see gendata).
//go:generate go run ./gendata -out testdata
