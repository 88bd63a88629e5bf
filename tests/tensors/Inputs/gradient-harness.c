/* Calls a tensor script's compiled gradient function at the script's values and prints out[] and grad[] in
 * full. */
#include "model.h"

#include <stdio.h>

int main(void) {
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS;
  double out[MODEL_NUM_OUT];
  double grad[MODEL_NUM_OUT * MODEL_NUM_IN];
  model_gradient(in, out, grad);
  for (int i = 0; i < MODEL_NUM_OUT; ++i)
    printf("out[%d] = %.17g\n", i, out[i]);
  for (int i = 0; i < MODEL_NUM_OUT * MODEL_NUM_IN; ++i)
    printf("grad[%d] = %.17g\n", i, grad[i]);
  return 0;
}
