// The Python module: nanobind bindings of the native ops (built in the "mlx" nanobind
// domain, so that mlx.core.array arguments and results cross without copies).
#include <nanobind/nanobind.h>
#include <nanobind/stl/array.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <dnnl.hpp>

#include "common.h"
#include "ops.h"

namespace nb = nanobind;
using namespace lucid_native;

namespace lucid_native {
static int g_threads = 1;
int num_threads() { return g_threads; }
void set_num_threads(int n) { g_threads = n < 1 ? 1 : n; }
}  // namespace lucid_native

NB_MODULE(_lucid_native, m) {
  m.doc() = "Lucid's native CPU kernels as MLX primitives (oneDNN, OpenMP)";

  m.def("set_num_threads", &set_num_threads, nb::arg("n"),
        "Threads for every native kernel (applied inside each dispatched task).");
  m.def("num_threads", &num_threads);
  m.def("onednn_version", []() {
    auto v = dnnl::version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch);
  });

  m.def("conv2d", &conv2d, nb::arg("x"), nb::arg("w"), nb::arg("b").none(),
        nb::arg("stride"), nb::arg("pads"), nb::arg("dilation"), nb::arg("groups"),
        "NCHW cross-correlation through oneDNN; pads = (top, bottom, left, right).");
  m.def("conv2d_affine", &conv2d_affine, nb::arg("x"), nb::arg("w"), nb::arg("b").none(),
        nb::arg("scale"), nb::arg("shift"), nb::arg("relu"), nb::arg("stride"), nb::arg("pads"),
        nb::arg("dilation"), nb::arg("groups"),
        "Inference only: act(conv2d(x, w, b) * scale + shift) per output channel, act = ReLU "
        "when relu, as oneDNN post-ops.");
  m.def("conv2d_backward_data", &conv2d_backward_data, nb::arg("g"), nb::arg("w"),
        nb::arg("in_hw"), nb::arg("stride"), nb::arg("pads"), nb::arg("dilation"),
        nb::arg("groups"), "dL/dx of conv2d from g = dL/dout.");
  m.def("conv2d_backward_weights", &conv2d_backward_weights, nb::arg("x"), nb::arg("g"),
        nb::arg("kernel"), nb::arg("stride"), nb::arg("pads"), nb::arg("dilation"),
        nb::arg("groups"), "(dL/dW, dL/db) of conv2d from its input and g = dL/dout.");

  m.def("conv2d_backward", &conv2d_backward, nb::arg("x"), nb::arg("g"), nb::arg("w"),
        nb::arg("stride"), nb::arg("pads"), nb::arg("dilation"), nb::arg("groups"),
        "(dL/dx, dL/dW, dL/db) of conv2d from its input, g = dL/dout and its weight.");
  m.def("pool2d", &pool2d, nb::arg("x"), nb::arg("alg"), nb::arg("kernel"), nb::arg("stride"),
        nb::arg("pads"), nb::arg("dilation"),
        "(out, workspace) of pooling; alg 0 max, 1 average with padding, 2 without.");
  m.def("pool2d_backward", &pool2d_backward, nb::arg("g"), nb::arg("workspace"), nb::arg("alg"),
        nb::arg("in_hw"), nb::arg("kernel"), nb::arg("stride"), nb::arg("pads"),
        nb::arg("dilation"), "dL/dx of pool2d from g = dL/dout (and max's workspace).");

  m.def("relu", &relu, nb::arg("x"), "max(x, 0), multi-threaded.");
  m.def("relu_backward", &relu_backward, nb::arg("g"), nb::arg("out"),
        "g [out > 0], out = relu(x) (out > 0 exactly where x > 0).");
  m.def("add_relu", &add_relu, nb::arg("a"), nb::arg("b"),
        "max(a + b, 0) of two arrays of one shape, multi-threaded.");
  m.def("add", &lucid_native::add, nb::arg("a"), nb::arg("b"),
        "a + b of two arrays of one shape, multi-threaded.");
  m.def("tanh", &lucid_native::tanh, nb::arg("x"), "tanh x, multi-threaded and vectorised.");
  m.def("tanh_backward", &tanh_backward, nb::arg("g"), nb::arg("out"), "g (1 - out^2).");

  m.def("batch_norm_train", &batch_norm_train, nb::arg("x"), nb::arg("weight").none(),
        nb::arg("bias").none(), nb::arg("eps"), nb::arg("relu"),
        "(y, mean, biased var) of batch normalisation with batch statistics (+ ReLU).");
  m.def("batch_norm_train_backward", &batch_norm_train_backward, nb::arg("g"), nb::arg("x"),
        nb::arg("y").none(), nb::arg("mean"), nb::arg("var"), nb::arg("weight").none(),
        nb::arg("eps"), "(dx, dweight, dbias) of batch_norm_train; y given when fused with ReLU.");
  m.def("batch_norm_eval", &batch_norm_eval, nb::arg("x"), nb::arg("scale"), nb::arg("shift"),
        nb::arg("relu"), "y = x * scale + shift per channel (+ ReLU).");

  m.def("adam_update", &adam_update, nb::arg("p"), nb::arg("g"), nb::arg("state"),
        nb::arg("scalars"), nb::arg("weight_decay"), nb::arg("decoupled"), nb::arg("maximize"),
        nb::arg("amsgrad"),
        "[p, m, v(, v_max)] after one Adam step; scalars = (step_size, sqrt(1 - b2^t), 1 - b1, "
        "b2, 1 - b2, eps, wd, 1 - lr wd), state = [m, v(, v_max)].");
  m.def("sgd_update", &sgd_update, nb::arg("p"), nb::arg("g"), nb::arg("state"),
        nb::arg("scalars"), nb::arg("weight_decay"), nb::arg("maximize"), nb::arg("momentum"),
        nb::arg("nesterov"), nb::arg("first"),
        "[p(, buf)] after one SGD step; scalars = (lr, wd, momentum, 1 - dampening), "
        "state = [buf] with momentum after the first step, else [].");
}
