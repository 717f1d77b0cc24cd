/* A program around an exported model (README, "From a Keras file to a board"): `rnn export`
 * wrote airline.h and airline.c; this file is all the rest. The model forecasts next month's
 * passengers from the last three months (on a board, send the result over a UART instead of
 * printing it). */
#include <stdio.h>

#include "airline.h"

int main(void) {
    /* passengers of three months, scaled to [0, 1] as in training (min 104, max 622) */
    static const float window[3] = {0.015f, 0.027f, 0.054f};
    float y[AIRLINE_OUTPUT_FEATURES];
    if (airline_predict(window, 3, y) != 1) return 1;
    printf("next month: %.0f passengers\n", 104.0 + y[0] * (622.0 - 104.0));
    return 0;
}
