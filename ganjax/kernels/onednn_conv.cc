// 2-D convolutions on oneDNN's CPU kernels, as XLA FFI custom calls (ganjax.kernels.onednn).
//
// Three calls make a closed set under differentiation: the forward convolution, its data
// gradient and its weight gradient (each one's derivatives are the other two). Layouts are
// what the models use, NHWC activations and HWIO kernels, float32, with explicit low/high
// padding and strides (no dilation, no groups). oneDNN chooses its own (blocked) kernel
// layout; the kernels are reordered into and out of it on every call, which is cheap against
// the convolution (a kernel is at most a few MB).
#include <cstdint>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;

namespace {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The geometry of one convolution: logical dims in oneDNN's order (N C H W, O I H W).
struct Geometry {
  memory::dims src, weights, dst, strides, pad_low, pad_high;
  memory::desc src_md() const { return memory::desc(src, memory::data_type::f32, tag::nhwc); }
  memory::desc dst_md() const { return memory::desc(dst, memory::data_type::f32, tag::nhwc); }
  memory::desc user_weights_md() const { return memory::desc(weights, memory::data_type::f32, tag::hwio); }
  memory::desc any_weights_md() const { return memory::desc(weights, memory::data_type::f32, tag::any); }
};

// x [N, H, W, C] and w [KH, KW, C, O] as NHWC/HWIO dims; y [N, OH, OW, O].
Geometry MakeGeometry(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w, ffi::Span<const int64_t> y,
                      int64_t stride_h, int64_t stride_w, int64_t pad_h_low, int64_t pad_h_high,
                      int64_t pad_w_low, int64_t pad_w_high) {
  Geometry g;
  g.src = {x[0], x[3], x[1], x[2]};
  g.weights = {w[3], w[2], w[0], w[1]};
  g.dst = {y[0], y[3], y[1], y[2]};
  g.strides = {stride_h, stride_w};
  g.pad_low = {pad_h_low, pad_w_low};
  g.pad_high = {pad_h_high, pad_w_high};
  return g;
}

dnnl::convolution_forward::primitive_desc ForwardDesc(const Geometry& g) {
  return dnnl::convolution_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, g.src_md(),
      g.any_weights_md(), g.dst_md(), g.strides, g.pad_low, g.pad_high);
}

// The user's HWIO kernel in the layout the primitive wants: itself, or a reordered copy.
memory KernelWeights(const Geometry& g, const memory::desc& wanted, float* data, dnnl::stream& stream) {
  memory user(g.user_weights_md(), Engine(), data);
  if (wanted == user.get_desc()) return user;
  memory kernel(wanted, Engine());
  dnnl::reorder(user, kernel).execute(stream, user, kernel);
  return kernel;
}

ffi::Error Failure(const dnnl::error& e) { return ffi::Error(ffi::ErrorCode::kInternal, e.what()); }

}  // namespace

#define GEOMETRY_ATTRS                                                                           \
  int64_t stride_h, int64_t stride_w, int64_t pad_h_low, int64_t pad_h_high, int64_t pad_w_low, \
      int64_t pad_w_high
#define GEOMETRY_ARGS stride_h, stride_w, pad_h_low, pad_h_high, pad_w_low, pad_w_high
#define BIND_GEOMETRY(binding)        \
  binding.Attr<int64_t>("stride_h")   \
      .Attr<int64_t>("stride_w")      \
      .Attr<int64_t>("pad_h_low")     \
      .Attr<int64_t>("pad_h_high")    \
      .Attr<int64_t>("pad_w_low")     \
      .Attr<int64_t>("pad_w_high")

// y = conv(x, w)
static ffi::Error ConvForward(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> y,
                              GEOMETRY_ATTRS) {
  try {
    Geometry g = MakeGeometry(x.dimensions(), w.dimensions(), y->dimensions(), GEOMETRY_ARGS);
    auto pd = ForwardDesc(g);
    dnnl::stream stream(Engine());
    memory kernel_w = KernelWeights(g, pd.weights_desc(), w.typed_data(), stream);
    memory src(g.src_md(), Engine(), x.typed_data());
    memory dst(g.dst_md(), Engine(), y->typed_data());
    dnnl::convolution_forward(pd).execute(
        stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, kernel_w}, {DNNL_ARG_DST, dst}});
    stream.wait();
  } catch (const dnnl::error& e) {
    return Failure(e);
  }
  return ffi::Error::Success();
}

// dx = dL/dx of y = conv(x, w), from dy and w (x's shape is dx's).
static ffi::Error ConvDataGrad(ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> dx,
                               GEOMETRY_ATTRS) {
  try {
    Geometry g = MakeGeometry(dx->dimensions(), w.dimensions(), dy.dimensions(), GEOMETRY_ARGS);
    auto hint = ForwardDesc(g);
    dnnl::convolution_backward_data::primitive_desc pd(
        Engine(), dnnl::algorithm::convolution_direct, g.src_md(), g.any_weights_md(), g.dst_md(), g.strides,
        g.pad_low, g.pad_high, hint);
    dnnl::stream stream(Engine());
    memory kernel_w = KernelWeights(g, pd.weights_desc(), w.typed_data(), stream);
    memory diff_dst(g.dst_md(), Engine(), dy.typed_data());
    memory diff_src(g.src_md(), Engine(), dx->typed_data());
    dnnl::convolution_backward_data(pd).execute(
        stream, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, kernel_w}, {DNNL_ARG_DIFF_SRC, diff_src}});
    stream.wait();
  } catch (const dnnl::error& e) {
    return Failure(e);
  }
  return ffi::Error::Success();
}

// dw = dL/dw of y = conv(x, w), from x and dy (w's shape is dw's).
static ffi::Error ConvWeightGrad(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy, ffi::ResultBuffer<ffi::F32> dw,
                                 GEOMETRY_ATTRS) {
  try {
    Geometry g = MakeGeometry(x.dimensions(), dw->dimensions(), dy.dimensions(), GEOMETRY_ARGS);
    auto hint = ForwardDesc(g);
    dnnl::convolution_backward_weights::primitive_desc pd(
        Engine(), dnnl::algorithm::convolution_direct, g.src_md(), g.any_weights_md(), g.dst_md(), g.strides,
        g.pad_low, g.pad_high, hint);
    dnnl::stream stream(Engine());
    memory src(g.src_md(), Engine(), x.typed_data());
    memory diff_dst(g.dst_md(), Engine(), dy.typed_data());
    memory user_dw(g.user_weights_md(), Engine(), dw->typed_data());
    memory kernel_dw = user_dw;
    if (pd.diff_weights_desc() != user_dw.get_desc()) kernel_dw = memory(pd.diff_weights_desc(), Engine());
    dnnl::convolution_backward_weights(pd).execute(
        stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, kernel_dw}});
    if (kernel_dw != user_dw) dnnl::reorder(kernel_dw, user_dw).execute(stream, kernel_dw, user_dw);
    stream.wait();
  } catch (const dnnl::error& e) {
    return Failure(e);
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(GanjaxOnednnConvForward, ConvForward,
                              BIND_GEOMETRY(ffi::Ffi::Bind()
                                                .Arg<ffi::Buffer<ffi::F32>>()
                                                .Arg<ffi::Buffer<ffi::F32>>()
                                                .Ret<ffi::Buffer<ffi::F32>>()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(GanjaxOnednnConvDataGrad, ConvDataGrad,
                              BIND_GEOMETRY(ffi::Ffi::Bind()
                                                .Arg<ffi::Buffer<ffi::F32>>()
                                                .Arg<ffi::Buffer<ffi::F32>>()
                                                .Ret<ffi::Buffer<ffi::F32>>()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(GanjaxOnednnConvWeightGrad, ConvWeightGrad,
                              BIND_GEOMETRY(ffi::Ffi::Bind()
                                                .Arg<ffi::Buffer<ffi::F32>>()
                                                .Arg<ffi::Buffer<ffi::F32>>()
                                                .Ret<ffi::Buffer<ffi::F32>>()));
