package main

import "github.com/nas-project/nas/search"

// cliChildDefaults are the child-training defaults of nas's commands (nas
// search, nas train) over those of search.ChildOptions' zero value, which
// the library keeps: batch norm after every convolution (the paper's layers
// are conv-BN-ReLU) and the learning rate annealed with a half cosine over
// the child's epochs. On 2 cores both raise what a child learns in the one
// short epoch of a search's budget (README, "Child training for short
// budgets", has the measurement). --bn=false and --cosine=false turn them
// off; a resumed run keeps its stored options.
func cliChildDefaults(d search.ChildOptions) search.ChildOptions {
	d.BatchNorm, d.CosineLR = true, true
	return d
}
