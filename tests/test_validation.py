"""Bad input as a user meets it (issue 21): every config field checked against the rule it declares, config files
that fail to load, data and weights of the wrong kind, and the one atomic writer with its strict JSON. Each case
asserts the whole message line, the exit status, and that nothing was written."""

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from jaxgan.files import WriteError, write_file
from jaxgan.run import cli
from jaxgan.run.config import MAX_SEED, Config, apply_overrides, load_config, validate
from jaxgan.run.writers import strict_json

FEATURES = "must be a non-empty list of positive integers (layer widths)"


@pytest.mark.parametrize(
    "override, message",
    [
        ("g_lr=-1", "config field g_lr must be a finite number > 0, got -1.0"),
        ("d_lr=0", "config field d_lr must be a finite number > 0, got 0.0"),
        ("g_lr=NaN", "config field g_lr must be a finite number > 0, got nan"),
        ("g_lr=Infinity", "config field g_lr must be a finite number > 0, got inf"),
        ("g_features=7", f"config field g_features {FEATURES}, got 7"),
        ("g_features=[0,64]", f"config field g_features {FEATURES}, got [0, 64]"),
        ("g_features=[]", f"config field g_features {FEATURES}, got []"),
        ('d_features=["64"]', f"config field d_features {FEATURES}, got ['64']"),
        (f"seed={2**70}", f"config field seed must be an integer in [0, {MAX_SEED}], got {2**70}"),
        ("seed=-1", f"config field seed must be an integer in [0, {MAX_SEED}], got -1"),
        (f"seed={2**32}", f"config field seed must be an integer in [0, {MAX_SEED}], got {2**32}"),
        ("batch_size=0", "config field batch_size must be a positive integer, got 0"),
        ("latent_dim=2.5", "config field latent_dim must be a positive integer, got 2.5"),
        ("steps=true", "config field steps must be a positive integer, got True"),
        ("image_size=-28", "config field image_size must be a positive integer or null, got -28"),
        ("channels=2", "config field channels must be 1 or 3 or null, got 2"),
        ("b1=1", "config field b1 must be in [0, 1), got 1.0"),
        ("instance_noise=-0.1", "config field instance_noise must be a finite number >= 0, got -0.1"),
        ("weight_clip=0", "config field weight_clip must be a finite number > 0 or null, got 0.0"),
        ("ema_decay=1", "config field ema_decay must be in [0, 1) or null, got 1.0"),
        ("conditional=yes", "config field conditional must be true or false, got 'yes'"),
        ("model=resnet", "config field model must be one of mlp, dcgan, sngan, began, biggan, progan; got 'resnet'"),
        ("optimizer=lamb", "config field optimizer must be one of adam, rmsprop, sgd; got 'lamb'"),
        ("parallel=gpu", "config field parallel must be one of none, pmap, mesh; got 'gpu'"),
        ('penalties={"gp": "ten"}', "config field penalties must be a JSON object of finite weights >= 0, got "
                                    "{'gp': 'ten'}"),
        ("model_kwargs=[1]", "config field model_kwargs must be a JSON object, got [1]"),
        ("metrics=fid10k", "config field metrics must be a list of strings, got 'fid10k'"),
        ("name=", "config field name must be a non-empty string, got ''"),
    ],
)
def test_each_field_is_checked_against_its_declared_rule(override, message):
    with pytest.raises(ValueError) as e:
        validate(apply_overrides(Config(), [override]))
    assert str(e.value) == message


def test_every_field_declares_a_rule_and_the_defaults_pass_it():
    for f in dataclasses.fields(Config):
        assert "rule" in f.metadata, f.name
    assert validate(Config()) == Config()


def _run_cli(argv, capsys):
    try:
        rc = cli.main(argv)
    except SystemExit as e:
        rc = e.code
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _config_file(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def test_bad_input_from_the_issue_is_one_line_and_exit_2_and_writes_nothing(tmp_path, capsys):
    syntax = _config_file(tmp_path, "syntax.py", """
        from jaxgan.run.config import Config

        def get_config(:
            return Config()
    """)
    raising = _config_file(tmp_path, "raising.py", """
        from jaxgan.run.config import Config


        def get_config():
            steps = {"quick": 100}["slow"]
            return Config(steps=steps)
    """)
    importing = _config_file(tmp_path, "importing.py", """
        import jaxgan.no_such_module
    """)
    regular = tmp_path / "regular-file"
    regular.write_text("not a directory")
    rgb = tmp_path / "rgb.npz"
    np.savez(rgb, images=np.zeros((16, 8, 8, 3), np.uint8), labels=np.arange(16) % 10)
    idx_file = tmp_path / "t10k-images-idx3-ubyte"
    idx_file.write_bytes(b"\0\0\x08\x03")
    workdir = tmp_path / "w"
    cases = {
        ("--config", str(syntax)): f"config file {syntax}, line 3: SyntaxError: invalid syntax",
        ("--config", str(raising)): f"config file {raising}, line 5: get_config() raised KeyError: 'slow'",
        ("--config", str(importing)): f"config file {importing}, line 1: ModuleNotFoundError: No module named "
                                      "'jaxgan.no_such_module'",
        ("--set", "g_lr=-1"): "config field g_lr must be a finite number > 0, got -1.0",
        ("--set", "g_features=7"): f"config field g_features {FEATURES}, got 7",
        ("--set", "g_features=[0,64]"): f"config field g_features {FEATURES}, got [0, 64]",
        ("--set", "g_features=[]"): f"config field g_features {FEATURES}, got []",
        ("--seed", str(2**70)): f"config field seed must be an integer in [0, {MAX_SEED}], got {2**70}",
        ("--set", f"data=npz:{rgb}", "--set", "channels=1", "--set", "batch_size=8"):
            f"config field channels is 1 but data 'npz:{rgb}' has 3-channel images (shape [16, 8, 8, 3]); "
            "set channels=3 (or null to follow the data), or convert the data",
        ("--config", "dcgan_mnist", "--set", f"data=npz:{rgb}", "--set", "batch_size=8"):  # the MNIST configs say 1
            f"config field channels is 1 but data 'npz:{rgb}' has 3-channel images (shape [16, 28, 28, 3]); "
            "set channels=3 (or null to follow the data), or convert the data",
        ("--set", f"data=idx:{idx_file}", "--set", "batch_size=8"):
            f"IDX data names a folder, and {idx_file} is a file: give the folder that holds it ({tmp_path})",
    }
    for args, message in cases.items():
        rc, out, err = _run_cli(["train", "--workdir", str(workdir), *args], capsys)
        assert (rc, err) == (2, f"jaxgan: error: {message}\n"), args
    rc, _, err = _run_cli(["train", "--workdir", str(regular)], capsys)
    assert (rc, err) == (2, f"jaxgan: error: workdir {regular} is a file, not a directory\n")
    assert regular.read_text() == "not a directory"
    assert not workdir.exists()


def test_a_named_config_that_raises_names_its_file(tmp_path, monkeypatch):
    # The same path for configs shipped in jaxgan/configs: the file and line come from the traceback.
    import jaxgan.configs

    package = tmp_path / "pkg"
    package.mkdir()
    bad = _config_file(package, "broken.py", """
        def get_config():
            return 1 / 0
    """)
    monkeypatch.setattr(jaxgan.configs, "__path__", [str(package)])
    with pytest.raises(ValueError) as e:
        load_config("broken")
    assert str(e.value) == f"config file {bad}, line 2: get_config() raised ZeroDivisionError: division by zero"
    sys.modules.pop("jaxgan.configs.broken", None)


def test_sample_and_eval_seeds_are_checked(tmp_path, capsys):
    for command in ("sample", "eval"):
        rc, _, err = _run_cli([command, "--workdir", str(tmp_path), "--seed", "-3"], capsys)
        assert (rc, err) == (2, f"jaxgan: error: --seed must be an integer in [0, {MAX_SEED}], got -3\n")


def test_a_text_file_as_inception_weights_is_named(tmp_path, capsys):
    weights = tmp_path / "weights.txt"
    weights.write_text("these are not weights")
    rc, _, err = _run_cli(["eval", "--workdir", str(tmp_path), "--metrics", "fid1k", "--features", "inception",
                           "--inception-weights", str(weights)], capsys)
    assert (rc, err) == (2, f"jaxgan: error: Inception weights {str(weights)!r} are not a .npz file (not a zip "
                            "archive); convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth with "
                            "scripts/convert_inception_weights.py\n")


# --------------------------------------------------------------------------------------------- the writer


def test_strict_json_writes_non_finite_numbers_as_null_with_a_flag():
    report = {"eval": {"reverse_kl": np.float32("inf"), "modes": 3}, "final_metrics": {"g/loss": float("nan")},
              "non_finite": {"eval/fid1k": "nan"}}
    text = strict_json(report)
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert parsed == {
        "eval": {"reverse_kl": None, "modes": 3},
        "final_metrics": {"g/loss": None},
        "non_finite": {"eval/fid1k": "nan", "eval/reverse_kl": "inf", "final_metrics/g/loss": "nan"},
    }
    assert strict_json({"a": [1.5, -np.inf]}) == '{"a": [1.5, null], "non_finite": {"a/1": "-inf"}}'


def test_write_file_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "report.json"
    write_file(path, '{"a": 1}\n')
    write_file(path, lambda tmp: tmp.write_text('{"a": 2}\n'))
    write_file(path, '{"b": 3}\n', append=True)
    assert path.read_text() == '{"a": 2}\n{"b": 3}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    with pytest.raises(WriteError) as e:
        write_file(path / "x.png", b"under a file")
    assert str(e.value) == f"cannot write {path / 'x.png'} (Not a directory); x.png was not written"

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise IsADirectoryError(21, "Is a directory")

    with pytest.raises(WriteError, match=r"\(Is a directory\); report.json was left as it was$"):
        write_file(path, half_then_fail)
    assert path.read_text() == '{"a": 2}\n{"b": 3}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


_FSIZE_CHILD = """
import resource, signal, sys
from pathlib import Path
from jaxgan.files import WriteError, write_file
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
path = Path(sys.argv[1])
for content, append in ((b"x" * 200, False), (b"y" * 200, True)):
    try:
        write_file(path, content, append=append)
    except WriteError as e:
        print(e)
"""


def test_a_write_past_a_file_size_limit_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"old line\n")
    out = subprocess.run([sys.executable, "-c", _FSIZE_CHILD, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"cannot write {path} (File too large); metrics.jsonl was left as it was"] * 2
    assert path.read_bytes() == b"old line\n"  # the failed append was cut back off
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]
