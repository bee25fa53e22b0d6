// The native ops, each building an MLX array whose primitive runs the kernel on the CPU.
#pragma once

#include <array>
#include <optional>
#include <tuple>

#include "common.h"

namespace lucid_native {

using Pair = std::array<int, 2>;
using Pads = std::array<int, 4>;  // top, bottom, left, right

mx::array conv2d(const mx::array& x, const mx::array& w, std::optional<mx::array> b,
                 Pair stride, Pads pads, Pair dilation, int groups);
mx::array conv2d_backward_data(const mx::array& g, const mx::array& w, Pair in_hw,
                               Pair stride, Pads pads, Pair dilation, int groups);
std::tuple<mx::array, mx::array> conv2d_backward_weights(
    const mx::array& x, const mx::array& g, Pair kernel, Pair stride, Pads pads,
    Pair dilation, int groups);

std::tuple<mx::array, mx::array, mx::array> batch_norm_train(
    const mx::array& x, std::optional<mx::array> weight, std::optional<mx::array> bias,
    float eps, bool relu);
std::tuple<mx::array, mx::array, mx::array> batch_norm_train_backward(
    const mx::array& g, const mx::array& x, std::optional<mx::array> y, const mx::array& mean,
    const mx::array& var, std::optional<mx::array> weight, float eps);
mx::array batch_norm_eval(const mx::array& x, const mx::array& scale, const mx::array& shift,
                          bool relu);

}  // namespace lucid_native
