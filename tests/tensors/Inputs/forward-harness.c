/* Calls a tensor script's compiled forward function at the script's values and prints out[] in full. */
#include "model.h"

#include <stdio.h>

int main(void) {
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS;
  double out[MODEL_NUM_OUT];
  model_forward(in, out);
  for (int i = 0; i < MODEL_NUM_OUT; ++i)
    printf("out[%d] = %.17g\n", i, out[i]);
  return 0;
}
