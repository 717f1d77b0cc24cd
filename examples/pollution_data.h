/* Shared by the scenario 3 and 4 examples: the first `hours` rows of the raw Beijing PM2.5 file
 * (header No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir) as 5 features per hour:
 * pm2.5, dew point, temperature, pressure, wind speed. Missing pm2.5 ("NA") is filled with the
 * last known value; leading NAs are skipped. Returns the number of hours read into *values (a
 * new array), 0 if the file is absent, -1 on a malformed line. */
#ifndef RNN_EXAMPLES_POLLUTION_DATA_H
#define RNN_EXAMPLES_POLLUTION_DATA_H

#include <stdio.h>
#include <stdlib.h>

enum { POLLUTION_FEATURES = 5 };

static int load_pollution(const char *path, int hours, float **values) {
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    const int F = POLLUTION_FEATURES;
    int n = 0;
    float *v = malloc(sizeof(float) * F * hours);
    char line[256], pm[16];
    if (!v || !fgets(line, sizeof line, fp)) { fclose(fp); free(v); return -1; }
    while (n < hours && fgets(line, sizeof line, fp)) {
        float *r = v + n * F;
        if (sscanf(line, "%*d,%*d,%*d,%*d,%*d,%15[^,],%f,%f,%f,%*[^,],%f", pm, r + 1, r + 2, r + 3,
                   r + 4) != 5) { fprintf(stderr, "bad line: %s", line); fclose(fp); free(v); return -1; }
        if (pm[0] != 'N') r[0] = strtof(pm, NULL);
        else if (n > 0) r[0] = r[-F];           /* NA: forward fill */
        else continue;                          /* leading NAs: skip */
        n++;
    }
    fclose(fp);
    *values = v;
    return n;
}

#endif
