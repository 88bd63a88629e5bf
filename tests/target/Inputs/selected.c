/* selected.c: calls a model built with `bpc build --name model --of ... --wrt ...` at its script's values
 * (MODEL_DEFAULTS) and prints its selected gradient, MODEL_GRAD_NUM_OUT rows of MODEL_GRAD_NUM_IN, as a JSON
 * array with 17 significant digits (enough to read every double back exactly). */
#include <stdio.h>

#include "model.h"

int main(void) {
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS;
  double out[MODEL_NUM_OUT];
  static double grad[MODEL_GRAD_NUM_OUT * MODEL_GRAD_NUM_IN];
  model_gradient(in, out, grad);
  printf("[");
  for (int i = 0; i < MODEL_GRAD_NUM_OUT * MODEL_GRAD_NUM_IN; ++i)
    printf("%s%.17g", i ? "," : "", grad[i]);
  printf("]\n");
  return 0;
}
