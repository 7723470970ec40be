"""Tasks (jaxgan/run/task.py): a run's data, real samples, pictures and evaluation, asked for by the loop, the runner,
sampling and evaluation, which do not branch on the kind of data."""

import ast
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgan.run import experiment, sampling
from jaxgan.run.config import Config
from jaxgan.run.runner import make_runner
from jaxgan.run.task import ImageTask, Task, ToyTask

ROOT = Path(__file__).resolve().parents[1]


def _toy_exp(**kw):
    c = Config(data="ring", batch_size=16, latent_dim=2, g_features=[16], d_features=[16], steps=4, **kw)
    return experiment.build(c)


def test_toy_task_draws_on_device_and_evaluates_mode_collapse(tmp_path):
    exp = _toy_exp()
    assert isinstance(exp.task, ToyTask) and exp.task.kind == "toy" and not exp.task.has_images
    assert exp.task.rows_per_step == 16 and exp.task.data_position(7) == {"step": 7}
    exp.task.check_data({"step": 7})  # no data order to disagree with
    real, key = exp.task.real_samples(300, seed=0)
    assert real.shape == (300, 2) and key is None
    np.testing.assert_allclose(np.linalg.norm(real, axis=1), 1.0, atol=0.06)  # the ring's radius, sigma 0.01
    assert exp.task.default_features(None) == "identity" and exp.task.num_real(123) == 123
    state = exp.init_state()
    written = []
    stats = exp.task.final_eval(exp, state, tmp_path, lambda p, fn: written.append(fn(p)))
    assert stats["total_modes"] == 8 and written == [tmp_path / "samples.png"] and written[0].is_file()
    out = sampling.write_samples(exp, state, tmp_path / "s.png", n=50)
    assert out.is_file()


def test_image_task_reads_the_batcher_and_refuses_latent_pictures_for_toys(tmp_path):
    exp = experiment.build(Config(data="digits", model="dcgan", image_size=28, batch_size=8, latent_dim=4,
                                  g_features=[8, 4], d_features=[4, 8], steps=2, eval_samples=20))
    t = exp.task
    assert isinstance(t, ImageTask) and t.has_images and t.batcher is exp.batcher
    assert t.data_position(3) == exp.batcher.position(3)
    t.check_data(exp.batcher.position(3))
    with pytest.raises(ValueError):
        t.check_data({**exp.batcher.position(3), "seed": exp.config.seed + 1})
    assert t.num_real(10**9) == len(exp.dataset.images) and t.default_features(None) == "digits"
    toy = _toy_exp()
    with pytest.raises(ValueError, match="latent pictures are for image runs"):
        sampling.write_latent_picture(toy, toy.init_state(), tmp_path / "x.png", mode="grid")


class _ShiftedRing(ToyTask):
    """A task made outside the library: the ring moved by (3, 0), fed as host batches."""

    def run(self, dp, state, step, k):
        metrics = None
        for i in range(k):
            x = np.asarray(self.dist.sample(jax.random.PRNGKey(step + i), self.rows_per_step)) + [3.0, 0.0]
            state, metrics = dp.step(state, dp.shard({"x": x}))
        return state, metrics

    def real_samples(self, n, seed):
        return np.asarray(self.dist.sample(jax.random.PRNGKey(seed), n)) + [3.0, 0.0], None


def test_a_new_task_plugs_into_the_runner_without_touching_it():
    exp = _toy_exp(g_lr=0.05, d_lr=0.05)
    exp = exp._replace(task=_ShiftedRing(exp.toy, exp.rows_per_step))
    runner = make_runner(exp, "none")
    state, metrics = runner.run(runner.put(exp.init_state()), 0, 3)
    assert int(runner.get(state).step) == 3 and np.isfinite(runner.metrics_to_host(metrics)["d/loss"])
    assert exp.task.real_samples(5, 0)[0][:, 0].mean() > 2.0


def test_the_loop_runner_sampling_and_evaluation_do_not_ask_what_the_data_is():
    """They reach data only through ``exp.task`` (a structural guarantee: no ``exp.toy`` / ``exp.batcher``)."""
    for module in ("run/loop", "run/runner", "parallel", "run/sampling", "run/evaluate"):
        tree = ast.parse((ROOT / "jaxgan" / f"{module}.py").read_text())
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name) and n.value.id == "exp"}
        assert not used & {"toy", "batcher", "sample_toy_batch"}, (module, used)
    assert issubclass(ToyTask, Task) and issubclass(ImageTask, Task)
