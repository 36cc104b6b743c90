package search

import (
	"encoding/json"
	"fmt"
	"slices"
)

// sampledSchema is the record of the sampling (schema version 7): a row per
// sampled iteration, written before any of its trials starts. updates is
// the number of iterations applied (their update made: rl's REINFORCE
// step; random's and evolution's observation) when the iteration was
// sampled, which with Options.InFlight D is max(0, iteration−D+1); it
// fixes the order of updates and samples, so that a resume replays it.
// proposals is the JSON of the iteration's M proposals (sampledProposal),
// in index order, the trial budget's cut included.
const sampledSchema = `
CREATE TABLE IF NOT EXISTS sampled (
	iteration INTEGER PRIMARY KEY,
	updates   INTEGER NOT NULL,
	proposals TEXT    NOT NULL
);
`

// sampledProposal is one proposal as the sampled table stores it.
type sampledProposal struct {
	Arch    string `json:"arch"`
	Layers  int    `json:"layers"`
	Choices []int  `json:"choices"`
}

// sampledRow is one row of the sampled table.
type sampledRow struct {
	updates int
	props   []sampledProposal
}

// hasSampled finds whether the database has the sampled table (version 7).
func (s *store) hasSampled() error {
	var n int
	err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sampled'`).Scan(&n)
	s.sampled = n > 0
	return err
}

// stored is the sampled table's form of proposals.
func stored(props []proposal) []sampledProposal {
	out := make([]sampledProposal, len(props))
	for k, p := range props {
		out[k] = sampledProposal{Arch: p.arch, Layers: p.layers, Choices: p.choices}
	}
	return out
}

// sameProposals reports whether a stored row holds exactly props.
func (row sampledRow) same(props []proposal) bool {
	return slices.EqualFunc(row.props, stored(props), func(a, b sampledProposal) bool {
		return a.Arch == b.Arch && a.Layers == b.Layers && slices.Equal(a.Choices, b.Choices)
	})
}

// putSampled records a sampled iteration (one transaction: the row).
func (s *store) putSampled(iter, updates int, props []proposal) error {
	b, err := json.Marshal(stored(props))
	if err != nil {
		return fmt.Errorf("search: iteration %d: encode proposals: %w", iter, err)
	}
	if _, err := s.db.Exec(`INSERT OR REPLACE INTO sampled (iteration, updates, proposals) VALUES (?, ?, ?)`, iter, updates, string(b)); err != nil {
		return fmt.Errorf("search: iteration %d: write the proposals: %w", iter, err)
	}
	return nil
}

// sampledRows reads the sampled table by iteration (empty before version
// 6).
func (s *store) sampledRows() (map[int]sampledRow, error) {
	out := map[int]sampledRow{}
	if !s.sampled {
		return out, nil
	}
	rows, err := s.db.Query(`SELECT iteration, updates, proposals FROM sampled ORDER BY iteration`)
	if err != nil {
		return nil, fmt.Errorf("search: read the sampled iterations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var iter int
		var row sampledRow
		var props string
		if err := rows.Scan(&iter, &row.updates, &props); err != nil {
			return nil, fmt.Errorf("search: read the sampled iterations: %w", err)
		}
		if err := json.Unmarshal([]byte(props), &row.props); err != nil {
			return nil, fmt.Errorf("search: iteration %d: decode the proposals: %w", iter, err)
		}
		out[iter] = row
	}
	return out, rows.Err()
}
