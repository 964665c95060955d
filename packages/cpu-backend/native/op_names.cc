// Names of the op codes, in enum order: the addon hands these lists to TypeScript, which maps the tensor
// package's op names onto codes with them (so the two sides cannot drift apart silently).
#include "vector_kernels.h"

namespace lorakit {

const char* unary_op_name(UnaryOp op) {
  static const char* const names[] = {
      "neg",        "abs",    "exp",   "log",  "sqrt",  "rsqrt", "sin",   "cos",        "tanh",
      "sigmoid",    "relu",   "silu",  "gelu", "gelu_tanh", "erf", "sign", "reciprocal", "square",
      "floor",      "ceil",   "round", "not",  "isnan", "isinf", "pow_scalar", "clamp"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<int>(UnaryOp::kCount), "one name per op");
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* const names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq",
                                      "ne",  "lt",  "le",  "gt",  "ge",  "and",     "or"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<int>(BinaryOp::kCount), "one name per op");
  return names[static_cast<int>(op)];
}

const char* reduce_op_name(ReduceOp op) {
  static const char* const names[] = {"sum", "prod", "max", "min"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<int>(ReduceOp::kCount), "one name per op");
  return names[static_cast<int>(op)];
}

}  // namespace lorakit
