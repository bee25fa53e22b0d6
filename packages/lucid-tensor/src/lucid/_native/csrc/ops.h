// The native ops, each building an MLX array whose primitive runs the kernel on the CPU.
#pragma once

#include <array>
#include <optional>
#include <tuple>
#include <vector>

#include "common.h"

namespace lucid_native {

using Pair = std::array<int, 2>;
using Pads = std::array<int, 4>;  // top, bottom, left, right

mx::array conv2d(const mx::array& x, const mx::array& w, std::optional<mx::array> b,
                 Pair stride, Pads pads, Pair dilation, int groups);
// inference only: act(conv2d(x, w, b) * scale[o] + shift[o]), act = ReLU when relu
mx::array conv2d_affine(const mx::array& x, const mx::array& w, std::optional<mx::array> b,
                        const mx::array& scale, const mx::array& shift, bool relu, Pair stride,
                        Pads pads, Pair dilation, int groups);
mx::array conv2d_backward_data(const mx::array& g, const mx::array& w, Pair in_hw,
                               Pair stride, Pads pads, Pair dilation, int groups);
std::tuple<mx::array, mx::array> conv2d_backward_weights(
    const mx::array& x, const mx::array& g, Pair kernel, Pair stride, Pads pads,
    Pair dilation, int groups);

// (dx, dw, db) at once: g reordered into the kernels' layout once for both halves
std::tuple<mx::array, mx::array, mx::array> conv2d_backward(
    const mx::array& x, const mx::array& g, const mx::array& w, Pair stride, Pads pads,
    Pair dilation, int groups);

// alg: 0 max, 1 average counting padding, 2 average over real pixels only
std::tuple<mx::array, mx::array> pool2d(const mx::array& x, int alg, Pair kernel, Pair stride,
                                        Pads pads, Pair dilation);
mx::array pool2d_backward(const mx::array& g, const mx::array& workspace, int alg, Pair in_hw,
                          Pair kernel, Pair stride, Pads pads, Pair dilation);

mx::array relu(const mx::array& x);
mx::array relu_backward(const mx::array& g, const mx::array& out);  // out: relu(x)
mx::array add_relu(const mx::array& a, const mx::array& b);  // max(a + b, 0), equal shapes
mx::array add(const mx::array& a, const mx::array& b);  // a + b, equal shapes
mx::array tanh(const mx::array& x);
mx::array tanh_backward(const mx::array& g, const mx::array& out);

std::tuple<mx::array, mx::array, mx::array> batch_norm_train(
    const mx::array& x, std::optional<mx::array> weight, std::optional<mx::array> bias,
    float eps, bool relu);
std::tuple<mx::array, mx::array, mx::array> batch_norm_train_backward(
    const mx::array& g, const mx::array& x, std::optional<mx::array> y, const mx::array& mean,
    const mx::array& var, std::optional<mx::array> weight, float eps);
mx::array batch_norm_eval(const mx::array& x, const mx::array& scale, const mx::array& shift,
                          bool relu);

// Fused optimizer updates: [new p, new state...] from p, its gradient and state (optim.cpp).
std::vector<mx::array> adam_update(const mx::array& p, const mx::array& g,
                                   const std::vector<mx::array>& state,
                                   const std::vector<float>& scalars, bool weight_decay,
                                   bool decoupled, bool maximize, bool amsgrad);
std::vector<mx::array> sgd_update(const mx::array& p, const mx::array& g,
                                  const std::vector<mx::array>& state,
                                  const std::vector<float>& scalars, bool weight_decay,
                                  bool maximize, bool momentum, bool nesterov, bool first);

}  // namespace lucid_native
