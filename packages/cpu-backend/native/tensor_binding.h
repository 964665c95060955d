// Registers the tensor kernels' JavaScript functions on the addon's exports (tensor_binding.cc).
#pragma once

#include <napi.h>

namespace lorakit {

void register_tensor_ops(Napi::Env env, Napi::Object exports);

}  // namespace lorakit
