"""Constrained solving: the constraints' compiled kernels, the augmented Lagrangian
(``auglag``), the KKT-Newton polish on the active set, and the KKT measures every
success claim is recomputed from."""
