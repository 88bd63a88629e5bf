/* two-models.c: two scripts built with different prefixes link into one program without clashes. */
#include <stdio.h>

#include "nested.h"
#include "neuron.h"

int main(void) {
  double nestedIn[NESTED_NUM_IN] = {5, -6, 7}, nestedOut[NESTED_NUM_OUT], nestedGrad[NESTED_NUM_IN];
  double neuronIn[NEURON_NUM_IN] = {1, -2, -3}, neuronOut[NEURON_NUM_OUT];
  nested_gradient(nestedIn, nestedOut, nestedGrad);
  neuron_forward(neuronIn, neuronOut);
  printf("nested f = %.17g, df/da = %.17g, df/dc = %.17g\n", nestedOut[NESTED_OUT_f], nestedGrad[NESTED_IN_a],
         nestedGrad[NESTED_IN_c]);
  printf("neuron f = %.17g\n", neuronOut[NEURON_OUT_f]);
  return 0;
}
