package main

import "github.com/nas-project/nas/search"

// cliChildDefaults are the child-training defaults of nas's commands (nas
// search, nas train) over those of search.ChildOptions' zero value, which
// the library keeps: batch norm after every convolution (the paper's layers
// are conv-BN-ReLU), the learning rate annealed with a half cosine over the
// child's epochs, from 0.1 (0.05 before: batch norm allows the larger step).
// Together they raise what a child learns in the one short epoch of a
// search's budget (README, "Child training for short budgets", has the
// measurement). --bn=false, --cosine=false and --lr turn them off; a
// resumed run keeps its stored options.
func cliChildDefaults(d search.ChildOptions) search.ChildOptions {
	d.BatchNorm, d.CosineLR, d.LR = true, true, defaultChildLR
	return d
}

// defaultChildLR is the CLI's child learning rate (with batch norm and the
// cosine schedule).
const defaultChildLR = 0.1
