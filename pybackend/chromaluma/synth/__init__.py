"""Synthetic film degradation with ground truth: dye fading, generation loss, damage, telecine references.

Modules: `density` (film density arithmetic), `fading` (dye fading), `generation` (print-of-a-print loss),
`damage` (dust, scratches, flicker), `telecine` (DVD/telecine reference), `shots` (clean shots from
public-domain photographs), `degrade` (the whole history of a print), `pairs` (training pair folders),
`flicker` (per-frame exposure and dye flicker, for temporal benchmarks).
"""
