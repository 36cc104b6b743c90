// Package onnxpb holds the Go types of ONNX's protobuf schema (onnx.proto from
// ONNX 1.12, as Debian's libonnx-dev installs it).
//
// The proto package is renamed from "onnx" to "nas.onnx" before generation:
// onnx-go registers its own messages named "onnx.*" in the global protobuf
// registry, and two registrations of one name panic at start-up. The wire
// format does not depend on the package name, so the files written here are
// ordinary ONNX models.
//
// Regenerate with `make proto` (needs protoc and protoc-gen-go v1.36.12).
package onnxpb
