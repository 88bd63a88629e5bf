/* defaults.c: checks that MODEL_DEFAULTS from a header built with `bpc build --name model` holds, bit for bit,
 * the values given on the command line (in in[] order, as the script writes them), and prints the first output
 * computed at the defaults the way `bpc run` prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int main(int argc, char **argv) {
  double in[MODEL_NUM_IN] = MODEL_DEFAULTS;
  double out[MODEL_NUM_OUT];
  if (argc != MODEL_NUM_IN + 1) {
    fprintf(stderr, "defaults: expected %d values, got %d\n", MODEL_NUM_IN, argc - 1);
    return 2;
  }
  int differ = 0;
  for (int i = 0; i < MODEL_NUM_IN; ++i) {
    double expected = strtod(argv[i + 1], NULL);
    if (memcmp(&in[i], &expected, sizeof expected) != 0) {
      printf("in[%d] is %.17g, not %s\n", i, in[i], argv[i + 1]);
      differ = 1;
    }
  }
  model_forward(in, out);
  printf("%s; first output %g\n", differ ? "defaults differ" : "defaults exact", out[0]);
  return differ;
}
