"""Crime per resident: rates, Empirical Bayes smoothing, rate Moran's I, crime beside social factors.

Pure analysis on arrays (numpy, scipy, shapely, h3, libpysal); the service
wires it to uploads, runs and pages. One module per family:

- :mod:`spatial.rates.smoothing`: raw rates per 1,000 / 10,000 residents,
  global and spatial Empirical Bayes rates, the small-population flag and
  the plain-words verdicts, populations refused with a reason.
- :mod:`spatial.rates.moran_rate`: global Moran's I of rates after the
  Assunção–Reis Empirical Bayes standardisation (esda ``Moran_Rate``).
- :mod:`spatial.rates.bivariate`: bivariate local Moran (crime rate beside an
  indicator) with the calibrated conditional-permutation inference.
- :mod:`spatial.rates.areal`: community populations spread onto H3 cells by
  area, and smoothed cell rates.
"""
