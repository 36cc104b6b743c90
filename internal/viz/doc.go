// Package viz draws what a search found: the architecture as a Graphviz DOT
// graph (Dot, and SVG through the dot program when it is installed) and the
// rewards of a run as a PNG plot (PlotRewards, with gonum/plot).
//
// It gets plain data: an onnxgen.Arch, or the points to plot. Output is
// deterministic for the same input.
package viz
