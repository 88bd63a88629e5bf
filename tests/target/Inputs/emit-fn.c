/* emit-fn.c: calls the functions `bpc build --emit-fn` compiled into a model (prefix model, header model.h) at
 * the script's values and prints what each fills: -DGRADIENT the gradient, -DJVP J t along the first element of
 * in[], -DVJP SEED^T J with every seed 2, -DHESSIAN the Hessian, -DHVP the Hessian times v along the first
 * element of v[] and along every element (v all ones). */
#include <stdio.h>

#include "model.h"

#ifndef MODEL_GRAD_NUM_IN
#define MODEL_GRAD_NUM_IN MODEL_NUM_IN
#endif

static void print(const char *name, const double *values, int n) {
  printf("%s = [", name);
  for (int i = 0; i < n; ++i)
    printf("%s%.10g", i ? ", " : "", values[i]);
  printf("]\n");
}

int main(void) {
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS, out[MODEL_NUM_OUT];
  model_forward(in, out);
  print("out", out, MODEL_NUM_OUT);
#ifdef GRADIENT
  double grad[MODEL_NUM_OUT * MODEL_NUM_IN];
  model_gradient(in, out, grad);
  print("gradient", grad, MODEL_NUM_OUT * MODEL_NUM_IN);
#endif
#ifdef JVP
  double tangent_in[MODEL_NUM_IN] = {1}, tangent_out[MODEL_NUM_OUT];
  model_jvp(in, tangent_in, out, tangent_out);
  print("jvp", tangent_out, MODEL_NUM_OUT);
  print("jvp out", out, MODEL_NUM_OUT);
#endif
#ifdef VJP
  double seed_out[MODEL_NUM_OUT], grad_in[MODEL_GRAD_NUM_IN];
  for (int o = 0; o < MODEL_NUM_OUT; ++o)
    seed_out[o] = 2;
  model_vjp(in, seed_out, out, grad_in);
  print("vjp", grad_in, MODEL_GRAD_NUM_IN);
  print("vjp out", out, MODEL_NUM_OUT);
#endif
#ifdef HESSIAN
  double hess[MODEL_HESS_SIZE * MODEL_HESS_SIZE];
  model_hessian(in, out, hess);
  for (int r = 0; r < MODEL_HESS_SIZE; ++r) {
    char name[32];
    snprintf(name, sizeof name, "hessian[%d]", r);
    print(name, hess + r * MODEL_HESS_SIZE, MODEL_HESS_SIZE);
  }
  print("hessian out", out, MODEL_NUM_OUT);
#endif
#ifdef HVP
  double v[MODEL_HESS_SIZE] = {1}, hv[MODEL_HESS_SIZE];
  model_hvp(in, v, out, hv);
  print("hvp first", hv, MODEL_HESS_SIZE);
  for (int c = 0; c < MODEL_HESS_SIZE; ++c)
    v[c] = 1;
  model_hvp(in, v, out, hv);
  print("hvp ones", hv, MODEL_HESS_SIZE);
  print("hvp out", out, MODEL_NUM_OUT);
#endif
  return 0;
}
