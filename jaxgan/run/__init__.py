"""The application: from a config to a trained run, its report and the ``jaxgan`` command.

The library (``jaxgan`` and its ``families/``, ``models/``, ``data/``, ``metrics/``) knows nothing of these modules:

* :mod:`~jaxgan.run.config`: the :class:`~jaxgan.run.config.Config` dataclass, its checks and ``--set``
  overrides (:mod:`~jaxgan.run.family_config`: what each family takes); the shipped configs are in
  :mod:`jaxgan.configs`.
* :mod:`~jaxgan.run.experiment`: a config made into a GAN system, its state, its task and data (an
  :class:`~jaxgan.run.pieces.Experiment`); :mod:`~jaxgan.run.families` and :mod:`~jaxgan.run.vision` build families
  and image models, :mod:`~jaxgan.run.translation` the translation families; :mod:`~jaxgan.run.task` owns data,
  samples and evaluation; :mod:`~jaxgan.run.sampler` is the one jitted sampler.
* :mod:`~jaxgan.run.runner` (the step over devices), :mod:`~jaxgan.run.loop` (training, checkpoints, the report),
  :mod:`~jaxgan.run.resume` (the newest valid checkpoint, config diffs), :mod:`~jaxgan.run.lock` (one writer per
  workdir).
* :mod:`~jaxgan.run.evaluate`, :mod:`~jaxgan.run.family_eval`, :mod:`~jaxgan.run.translation_eval` (report
  measures), :mod:`~jaxgan.run.sampling`, :mod:`~jaxgan.run.plots`, :mod:`~jaxgan.run.writers` (pictures, metrics
  files, TensorBoard, progress).
* :mod:`~jaxgan.run.cli`: ``jaxgan train | sample | eval | bench``.

Importing this package imports no JAX (the command line catches signals before JAX loads).
"""
