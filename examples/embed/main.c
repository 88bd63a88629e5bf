/* main.c: a C program that embeds a network compiled by bp, and trains it.
 *
 * CMakeLists.txt beside this file runs `bpc build ../xor.bp --name xor`, which writes xor.o (the forward and
 * gradient functions as native code) and xor.h (their prototypes and index constants). No runtime library:
 * the object needs only libm. Here the compiled gradient drives plain gradient descent on the XOR table. */
#include <stdio.h>

#include "xor.h" /* BP_NAME: xor, from ../xor.bp */

static const double samples[4][3] = {{0, 0, 0}, {0, 1, 1}, {1, 0, 1}, {1, 1, 0}}; /* x1, x2, target */

/* Start from the script's values: xor.h lists them in in[] order (inputs x1, x2, t, then the params). */
static double in[XOR_NUM_IN] = XOR_DEFAULTS;

static void setSample(int s) {
  in[XOR_IN_x1] = samples[s][0];
  in[XOR_IN_x2] = samples[s][1];
  in[XOR_IN_t] = samples[s][2];
}

static double meanLoss(void) {
  double out[XOR_NUM_OUT], total = 0;
  for (int s = 0; s < 4; ++s) {
    setSample(s);
    xor_forward(in, out);
    total += out[XOR_OUT_loss];
  }
  return total / 4;
}

int main(void) {
  const double rate = 1.0;
  printf("mean loss before training: %.6f\n", meanLoss());
  for (int step = 0; step < 2000; ++step) {
    double update[XOR_NUM_IN] = {0};
    for (int s = 0; s < 4; ++s) {
      double out[XOR_NUM_OUT], grad[XOR_NUM_OUT * XOR_NUM_IN];
      setSample(s);
      xor_gradient(in, out, grad);
      for (int i = XOR_IN_t + 1; i < XOR_NUM_IN; ++i) /* the params follow the inputs */
        update[i] += grad[XOR_OUT_loss * XOR_NUM_IN + i] / 4;
    }
    for (int i = XOR_IN_t + 1; i < XOR_NUM_IN; ++i)
      in[i] -= rate * update[i];
  }
  printf("mean loss after 2000 steps: %.6f\n", meanLoss());
  for (int s = 0; s < 4; ++s) {
    double out[XOR_NUM_OUT];
    setSample(s);
    xor_forward(in, out);
    printf("xor(%g, %g) = %.4f (want %g)\n", samples[s][0], samples[s][1], out[XOR_OUT_y], samples[s][2]);
  }
  return 0;
}
