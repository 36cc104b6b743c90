package dataset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// pcgStream is the second PCG word; with the caller's seed as the first it
// fixes the generator, so a seed gives the same split on every machine.
const pcgStream = 0x9e3779b97f4a7c15

// choose returns k distinct indices in [0, n), drawn uniformly with a PCG
// generator seeded by seed, sorted ascending, and the other n-k, ascending.
func choose(n, k int, seed uint64) (picked, rest []int) {
	perm := rand.New(rand.NewPCG(seed, pcgStream)).Perm(n)
	picked, rest = perm[:k], perm[k:]
	slices.Sort(picked)
	slices.Sort(rest)
	return picked, rest
}

// Split draws valSize images of s at random (math/rand/v2 PCG seeded by seed:
// the same seed gives the same split) as a validation set and returns them
// and the remaining images as a new training set. Both keep the order the
// images had in s. s is not modified. A trailing "/train" of s.Name is
// replaced: "fashion-mnist/train" splits into "fashion-mnist/train" and
// "fashion-mnist/val". valSize must be in [1, s.Len()-1].
func Split(s *Set, valSize int, seed uint64) (train, val *Set, err error) {
	if s == nil {
		return nil, nil, fmt.Errorf("dataset: split: nil set")
	}
	if valSize < 1 || valSize >= s.Len() {
		return nil, nil, fmt.Errorf("dataset: split %s: validation size %d is outside [1, %d]", s.Name, valSize, s.Len()-1)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("dataset: split: %w", err)
	}
	v, t := choose(s.Len(), valSize, seed)
	base := strings.TrimSuffix(s.Name, "/train")
	return s.pick(base+"/train", t), s.pick(base+"/val", v), nil
}

// Subset returns n images of s drawn at random (PCG seeded by seed, as in
// Split), in the order they had in s, as a new set named s.Name+"/subset".
// n must be in [1, s.Len()]; n == s.Len() gives a copy.
func (s *Set) Subset(n int, seed uint64) (*Set, error) {
	if n < 1 || n > s.Len() {
		return nil, fmt.Errorf("dataset: subset of %s: size %d is outside [1, %d]", s.Name, n, s.Len())
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("dataset: subset: %w", err)
	}
	p, _ := choose(s.Len(), n, seed)
	return s.pick(s.Name+"/subset", p), nil
}
