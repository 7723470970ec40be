"""The step-throughput benchmark, shipped in the package so that ``jaxgan bench`` runs from an installed wheel:
:mod:`jaxgan.bench.step_throughput` (the manual and the main), :mod:`~jaxgan.bench.runners`,
:mod:`~jaxgan.bench.flops`, :mod:`~jaxgan.bench.machine`, :mod:`~jaxgan.bench.levers`, and the two references it
is measured against: :mod:`~jaxgan.bench.minimal_jax` and :mod:`~jaxgan.bench.torch_reference` (needs torch)."""
