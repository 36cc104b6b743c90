// Package viz draws what a search found: an architecture as a Graphviz
// picture, and the rewards of a run as a PNG plot. It gets plain data (an
// onnxgen.Arch, or a list of Points) and imports neither runner, search nor
// controller. Every output depends only on the arguments: no time, no
// randomness, no map order.
//
// # Architecture pictures
//
// Dot(a, in, classes, title) writes a Graphviz DOT digraph named "nas", laid
// out top to bottom. Sizes are written C×H×W with an ASCII x, as onnxgen
// computes them (Arch.Shapes: 'same' padding, output ceil(input/stride), a
// P×P max pool floor(size/P)).
//
//	image    an ellipse "image CxHxW" (the input in)
//	l<i>     one rounded box per layer i, in index order down the page:
//	           "L<i>  conv KHxKW[ /S | /SHxSW]"   stride omitted when 1x1,
//	                                                "/2" when square
//	           "<F> filters -> CxHxW"              the layer's output (with a
//	                                                pool: the convolution's)
//	           "max pool PxP -> CxHxW"             only when the layer pools:
//	                                                the pooled output
//	         a layer with a stride other than 1x1 is filled a darker blue,
//	         a layer that pools lavender
//	head     "[concat CxHxW + ]global avg pool + fc" / "-> K classes";
//	         "concat" and the concatenated size appear only when more than
//	         one layer feeds the head
//
// Edges, one per input:
//
//	solid, grey, heavy   the spine: image -> l0, l(i-1) -> l(i), and the last
//	                     layer -> head
//	dashed, blue         every other input: a skip connection l(j) -> l(i),
//	                     the image into a layer i > 0 that has no in token,
//	                     and every other unused layer -> head (Arch.HeadInputs)
//	label " pad"         (orange) on any edge whose source is zero-padded
//	                     because a larger map is concatenated beside it
//	invisible            l(i-1) -> l(i) when layer i-1 does not feed layer i,
//	                     so that the boxes stay in index order
//
// The graph's label, at the top, is the title (if not empty), then the
// canonical architecture string (onnxgen.Format), then "N layers, P
// parameters, M multiply-adds per image" (onnxgen.Arch.Cost without batch
// norm, with a k/M/G suffix). Lines longer than about 80 characters are
// wrapped: the title between words, the architecture between layers (a
// wrapped line ends in " |").
//
// Free text is made safe and shown literally: invalid UTF-8 becomes U+FFFD,
// CR and CRLF become line breaks, other control characters spaces; in the
// DOT string a backslash is doubled (so "\N" is not Graphviz's node-name
// escape), '"' is escaped and '&' is written "&amp;" (Graphviz decodes HTML
// entities in labels).
//
// Dot fails with onnxgen's error, wrapped and prefixed "viz: ", when the
// architecture is invalid, does not fit the image (a stride larger than its
// feature map), or classes < 2.
//
// RenderSVG(dot) pipes the DOT through "dot -Tsvg" when Graphviz's dot program
// is on the PATH (exec.LookPath). Without it, its error wraps ErrNoGraphviz
// (which says to install graphviz), and callers write only the .dot file; a
// graph dot rejects gives "viz: dot -Tsvg: <exit status>: <dot's message>".
//
// # Reward plots
//
// PlotRewards(points, title, w) writes a PNG of PlotWidth×PlotHeight pixels
// (gonum/plot, vgimg) with "trial" on x and "reward" on y:
//
//   - one scatter per Point.Group, coloured from Okabe and Ito's
//     colour-blind-safe palette, the largest group first (ties by name), and
//     with another glyph shape once the six colours repeat; the legend, right
//     of the axes, lists each group with its count ("(none)" for "");
//   - the best reward so far, a black step line, its final value in the legend;
//   - the moving average of the reward over the last MovingWindow(n) trials
//     (n/10, at least 5 and at most 50; fewer at the start), dashed grey;
//   - axis ticks at 1, 2 or 5 times a power of ten, integers on the trial axis.
//
// Both lines run over all plotted points in index order (a stable sort by
// Index), whatever their group. Points with a NaN or infinite reward are left
// out. With no point left the plot is an empty unit square whose title ends
// in "(no trials)"; a single point is drawn in the middle of its axes. Errors:
// "viz: write png: ..." when w fails, "viz: plot: ..." from gonum/plot.
package viz
