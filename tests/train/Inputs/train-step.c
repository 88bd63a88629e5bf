/* train-step.c: trains a model built with `bpc build --train-step --name model` as `bpc train` does without
 * --seed: `harness STEPS BATCH < NUMBERS` reads the rows (MODEL_ROW_SIZE numbers each) and, per step, passes
 * the next BATCH of them, in order and wrapping around, to model_train_step; a model without rows gets
 * nrows = 1 and no rows. Prints in[] after the last step and each step's result as JSON (17 significant
 * digits read back exactly), and whether a step over no rows returned NaN and left in[] as it was. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAX_NUMBERS 4096

int main(int argc, char **argv) {
  static double numbers[MAX_NUMBERS], batch[MAX_NUMBERS];
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS, before[MODEL_NUM_IN];
  double state[MODEL_STATE_SIZE > 0 ? MODEL_STATE_SIZE : 1] = {0};
  long steps, size, rowCount = 0, cursor = 0;
  if (argc != 3)
    return 2;
  steps = atol(argv[1]);
  size = MODEL_ROW_SIZE > 0 ? atol(argv[2]) : 1;
  while (MODEL_ROW_SIZE > 0 && (rowCount + 1) * MODEL_ROW_SIZE <= MAX_NUMBERS &&
         scanf("%lf", &numbers[rowCount * MODEL_ROW_SIZE]) == 1) {
    for (int c = 1; c < MODEL_ROW_SIZE; ++c)
      if (scanf("%lf", &numbers[rowCount * MODEL_ROW_SIZE + c]) != 1)
        return 3;
    ++rowCount;
  }
  if (size * MODEL_ROW_SIZE > MAX_NUMBERS)
    return 4;
  printf("{\"losses\":[");
  for (long s = 0; s < steps; ++s) {
    for (long k = 0; k < size && MODEL_ROW_SIZE > 0; ++k, cursor = (cursor + 1) % rowCount)
      memcpy(&batch[k * MODEL_ROW_SIZE], &numbers[cursor * MODEL_ROW_SIZE], MODEL_ROW_SIZE * sizeof(double));
    printf("%s%.17g", s ? "," : "", model_train_step(in, state, MODEL_ROW_SIZE > 0 ? batch : NULL, size));
  }
  printf("],\"in\":[");
  for (int i = 0; i < MODEL_NUM_IN; ++i)
    printf("%s%.17g", i ? "," : "", in[i]);
  memcpy(before, in, sizeof in);
  double empty = model_train_step(in, state, batch, 0);
  printf("],\"empty\":%s}\n", isnan(empty) && memcmp(before, in, sizeof in) == 0 ? "true" : "false");
  return 0;
}
