// Package modelfile reads what nas needs to know about an inference model
// that nas wrote (best.onnx, retrained.onnx, nas export and nas train -o):
// the size of its input image and its number of classes, from the graph's
// signature (one input [N, C, H, W], one output [N, classes]), and its
// metadata_props (nas.arch, nas.test_accuracy, ...; README "Exported
// models").
//
// Read fails, its error prefixed "modelfile: ", when the bytes are not an
// ONNX ModelProto, or the graph has another signature (a model some other
// tool wrote, or a training-step graph).
package modelfile
