/* Uses a tensor script's SIZE, RANK and SHAPE macros (header-tensor.test): checks them against each other at
 * compile time, fills X in[] by loops over its shape, calls the forward function and prints y by its shape.
 * Valid C99/C11 and C++: as C++, the product of each SHAPE is checked against SIZE by static_assert. */
#include "model.h"

#include <stdio.h>

static const int xShape[] = MODEL_IN_X_SHAPE;
static const int vShape[] = MODEL_IN_v_SHAPE;
static const int yShape[] = MODEL_OUT_y_SHAPE;

#ifdef __cplusplus
constexpr int product(const int *shape, int rank) { return rank == 0 ? 1 : shape[0] * product(shape + 1, rank - 1); }
constexpr int xDims[] = MODEL_IN_X_SHAPE, wDims[] = MODEL_IN_W_SHAPE, vDims[] = MODEL_IN_v_SHAPE,
              yDims[] = MODEL_OUT_y_SHAPE;
static_assert(product(xDims, MODEL_IN_X_RANK) == MODEL_IN_X_SIZE, "X: SIZE is the product of SHAPE");
static_assert(product(wDims, MODEL_IN_W_RANK) == MODEL_IN_W_SIZE, "W: SIZE is the product of SHAPE");
static_assert(product(vDims, MODEL_IN_v_RANK) == MODEL_IN_v_SIZE, "v: SIZE is the product of SHAPE");
static_assert(product(yDims, MODEL_OUT_y_RANK) == MODEL_OUT_y_SIZE, "y: SIZE is the product of SHAPE");
#define STATIC_ASSERT static_assert
#else
#define STATIC_ASSERT _Static_assert
#endif
/* RANK is the length of SHAPE; the runs of in[] follow one another. */
STATIC_ASSERT(sizeof xShape / sizeof xShape[0] == MODEL_IN_X_RANK, "X: RANK is the length of SHAPE");
STATIC_ASSERT(sizeof vShape / sizeof vShape[0] == MODEL_IN_v_RANK, "v: RANK is the length of SHAPE");
STATIC_ASSERT(sizeof yShape / sizeof yShape[0] == MODEL_OUT_y_RANK, "y: RANK is the length of SHAPE");
STATIC_ASSERT(MODEL_IN_X + MODEL_IN_X_SIZE == MODEL_IN_v, "v follows X");
STATIC_ASSERT(MODEL_IN_v + MODEL_IN_v_SIZE == MODEL_IN_W, "W follows v");
STATIC_ASSERT(MODEL_IN_W + MODEL_IN_W_SIZE == MODEL_IN_b, "b follows W");
STATIC_ASSERT(MODEL_OUT_y + MODEL_OUT_y_SIZE == MODEL_NUM_OUT, "y is the last output");

int main(void) {
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS;
  double out[MODEL_NUM_OUT];
  int size = 1;
  for (int d = 0; d < MODEL_IN_X_RANK; ++d)
    size *= xShape[d];
  if (size != MODEL_IN_X_SIZE) {
    printf("X: the product of SHAPE is %d, SIZE %d\n", size, MODEL_IN_X_SIZE);
    return 1;
  }
  /* X[i][j] = 10 i + j, row-major. */
  for (int i = 0; i < xShape[0]; ++i)
    for (int j = 0; j < xShape[1]; ++j)
      in[MODEL_IN_X + i * xShape[1] + j] = 10 * i + j;
  for (int k = 0; k < vShape[0]; ++k)
    in[MODEL_IN_v + k] = k;
  model_forward(in, out);
  printf("total = %.17g\n", out[MODEL_OUT_total]);
  for (int i = 0; i < yShape[0]; ++i)
    for (int j = 0; j < yShape[1]; ++j)
      printf("y[%d][%d] = %.17g\n", i, j, out[MODEL_OUT_y + i * yShape[1] + j]);
  return 0;
}
