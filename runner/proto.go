package runner

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX protobuf field numbers read here (onnx.proto): ModelProto.graph,
// GraphProto.input, ValueInfoProto.name.
const (
	fieldModelGraph    = 7
	fieldGraphInput    = 11
	fieldValueInfoName = 1
)

// graphInputs returns the names of the graph inputs of a serialized ONNX
// model, read straight from the wire format (runner does not depend on the
// ONNX Go types, which belong to onnxgen).
func graphInputs(model []byte) (map[string]bool, error) {
	graph, err := field(model, fieldModelGraph)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if graph == nil {
		return nil, fmt.Errorf("model has no graph")
	}
	names := map[string]bool{}
	err = eachField(graph, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != fieldGraphInput || typ != protowire.BytesType {
			return nil
		}
		name, err := field(v, fieldValueInfoName)
		if err != nil {
			return fmt.Errorf("graph input: %w", err)
		}
		names[string(name)] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return names, nil
}

// field returns the last length-delimited field num of msg (nil if absent).
func field(msg []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	err := eachField(msg, func(n protowire.Number, typ protowire.Type, v []byte) error {
		if n == num && typ == protowire.BytesType {
			out = v
		}
		return nil
	})
	return out, err
}

// eachField calls f for every field of msg; v is the payload of
// length-delimited fields and nil for the others.
func eachField(msg []byte, f func(protowire.Number, protowire.Type, []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("not a protobuf message: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(msg)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return fmt.Errorf("not a protobuf message: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		if err := f(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}
