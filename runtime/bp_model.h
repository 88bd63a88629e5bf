/* bp_model.h: the C ABI of a model compiled by bp.
 *
 * Every compiled script exposes two functions over plain double arrays, with no runtime library and no
 * global state (they are reentrant and thread-safe):
 *
 *   void PREFIX_forward(const double *in, double *out);
 *   void PREFIX_gradient(const double *in, double *out, double *grad);
 *
 * in:   every input, then every param, each in declaration order
 * out:  every output, in declaration order (the gradient function fills it too)
 * grad: row-major [NUM_OUT][NUM_IN]; row o holds d out[o] / d in[i]
 *
 * `bpc build` writes a header with the prototypes and index constants for one script; the JIT behind
 * `bpc run` calls the same functions through these pointer types.
 */
#ifndef BP_MODEL_H
#define BP_MODEL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*bp_forward_fn)(const double *in, double *out);
typedef void (*bp_gradient_fn)(const double *in, double *out, double *grad);

#ifdef __cplusplus
}
#endif

#endif /* BP_MODEL_H */
