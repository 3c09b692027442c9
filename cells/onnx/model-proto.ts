/**
 * A small protobuf encoder for the ONNX messages a graph needs (ModelProto,
 * GraphProto, NodeProto, TensorProto, ValueInfoProto, AttributeProto): enough
 * to build a graph at run time — the batched top-k's Gemm + TopK — without
 * shipping a .onnx file or a protobuf library. Only the fields written here
 * are supported; field numbers are onnx.proto3's.
 *
 * @example
 * ```ts
 * import { FLOAT, graphProto, modelProto, nodeProto, attrInt, valueInfo } from "./model-proto.ts";
 *
 * const graph = graphProto({
 *   name: "scores",
 *   nodes: [nodeProto("Gemm", ["q", "v"], ["s"], [attrInt("transB", 1)])],
 *   inputs: [valueInfo("q", FLOAT, ["nq", 512]), valueInfo("v", FLOAT, ["nv", 512])],
 *   outputs: [valueInfo("s", FLOAT, ["nq", "nv"])],
 * });
 * const bytes = modelProto(graph, { opset: 17, producer: "cellar" }); // InferenceSession.create(bytes)
 * ```
 */

/** TensorProto.DataType values used here. */
export const FLOAT = 1, INT8 = 3, INT32 = 6, INT64 = 7;

export function nodeProto(op: string, inputs: string[], outputs: string[], attrs: Uint8Array[] = []): Uint8Array {
  return message([
    ...inputs.map((i) => stringField(1, i)),
    ...outputs.map((o) => stringField(2, o)),
    stringField(3, outputs[0]),
    stringField(4, op),
    ...attrs.map((a) => bytesField(5, a)),
  ]);
}

export function attrInt(name: string, value: number): Uint8Array {
  return message([stringField(1, name), varintField(3, value), varintField(20, 2)]);
}

export function attrInts(name: string, values: number[]): Uint8Array {
  return message([stringField(1, name), ...values.map((v) => varintField(8, v)), varintField(20, 7)]);
}

export function attrFloat(name: string, value: number): Uint8Array {
  const f = new Uint8Array(4);
  new DataView(f.buffer).setFloat32(0, value, true);
  return message([stringField(1, name), tag(2, 5), f, varintField(20, 1)]);
}

/** A constant (initializer) tensor; `data` is written as raw little-endian bytes. */
export function tensorProto(name: string, dims: number[], type: number, data: ArrayBufferView): Uint8Array {
  return message([
    ...dims.map((d) => varintField(1, d)),
    varintField(2, type),
    stringField(8, name),
    bytesField(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), // raw_data
  ]);
}

/** A graph input's or output's name, element type and shape (a string is a symbolic dimension). */
export function valueInfo(name: string, type: number, dims: Array<string | number>): Uint8Array {
  const shape = message(dims.map((d) => bytesField(1, typeof d === "number" ? message([varintField(1, d)]) : message([stringField(2, d)]))));
  const tensorType = message([varintField(1, type), bytesField(2, shape)]);
  return message([stringField(1, name), bytesField(2, message([bytesField(1, tensorType)]))]);
}

export interface GraphParts {
  name: string;
  nodes: Uint8Array[];
  initializers?: Uint8Array[];
  inputs: Uint8Array[];
  outputs: Uint8Array[];
}

export function graphProto(g: GraphParts): Uint8Array {
  return message([
    ...g.nodes.map((n) => bytesField(1, n)),
    stringField(2, g.name),
    ...(g.initializers ?? []).map((t) => bytesField(5, t)),
    ...g.inputs.map((i) => bytesField(11, i)),
    ...g.outputs.map((o) => bytesField(12, o)),
  ]);
}

/** The model file's bytes: IR version 8, the default ("") opset domain at `opset`. */
export function modelProto(graph: Uint8Array, options: { opset: number; producer: string }): Uint8Array {
  return message([
    varintField(1, 8), // ir_version
    stringField(2, options.producer),
    bytesField(7, graph),
    bytesField(8, message([stringField(1, ""), varintField(2, options.opset)])),
  ]);
}

// ---- wire format ----

function varint(value: number | bigint): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value)); // negative int64s take ten bytes, as protobuf says
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function tag(field: number, wireType: number): Uint8Array {
  return varint((field << 3) | wireType);
}

export function varintField(field: number, value: number): Uint8Array {
  return message([tag(field, 0), varint(value)]);
}

export function bytesField(field: number, bytes: Uint8Array): Uint8Array {
  return message([tag(field, 2), varint(bytes.length), bytes]);
}

export function stringField(field: number, text: string): Uint8Array {
  return bytesField(field, new TextEncoder().encode(text));
}

export function message(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}
