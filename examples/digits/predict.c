/* predict.c: classifies the digits of a CSV file with a model built by bpc, and prints its accuracy.
 *
 *   bpc build trained.bp --name digits -o digits.o --header digits.h
 *   cc -I. predict.c digits.o -lm -o predict
 *   zcat test.csv.gz | ./predict
 *
 * Each line of standard input is one image, 64 pixels then its digit (the files of this folder). The trained
 * weights are the script's values, DIGITS_DEFAULTS; each row's pixels go into x, its digit into label, and the
 * model's `accuracy` output is 1 where the most likely class is the digit. The mean of those 1s and 0s, summed
 * in row order, is what `bpc run trained.bp --data test.csv.gz --columns x,label` prints, to the last digit. */
#include "digits.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
  static double in[DIGITS_NUM_IN] = DIGITS_DEFAULTS;
  double out[DIGITS_NUM_OUT];
  double correct = 0;
  long rows = 0;
  for (;;) {
    for (int i = 0; i <= DIGITS_IN_x_SIZE; ++i) { /* the pixels, then the label */
      double *value = i < DIGITS_IN_x_SIZE ? &in[DIGITS_IN_x + i] : &in[DIGITS_IN_label];
      int read = scanf(i == 0 ? " %lf" : " ,%lf", value);
      if (read == EOF && i == 0)
        goto done;
      if (read != 1) {
        fprintf(stderr, "predict: row %ld: expected %d pixels, then the label\n", rows + 1, DIGITS_IN_x_SIZE);
        return 1;
      }
    }
    digits_forward(in, out);
    correct += out[DIGITS_OUT_accuracy];
    ++rows;
  }
done:
  if (rows == 0) {
    fprintf(stderr, "predict: no rows on standard input\n");
    return 1;
  }
  printf("%ld rows, accuracy = %.17g\n", rows, correct / (double)rows);
  return 0;
}
