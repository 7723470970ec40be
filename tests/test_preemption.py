"""Tests of jaxgan.preemption: signals recorded before the loop starts and handed over, the loop's stop flag, a
second Ctrl-C, and the single-process stop agreement. (``jaxgan train`` stopped by SIGTERM and resumed bitwise:
tests/test_resume.py.)"""

import os
import signal
import subprocess
import sys

import pytest

from jaxgan import checkpoint, preemption


def _send(sig: int) -> None:
    os.kill(os.getpid(), sig)  # delivered to the main thread before os.kill returns


def test_a_signal_before_the_loop_is_recorded_and_handed_over():
    before = {sig: signal.getsignal(sig) for sig in preemption.SIGNALS}
    with preemption.recorded_signals() as pending:
        _send(signal.SIGTERM)
        assert pending == [signal.SIGTERM]
        with preemption.StopRequest(pending) as stop:
            assert stop.signal == signal.SIGTERM and stop.name == "SIGTERM"
    assert {sig: signal.getsignal(sig) for sig in preemption.SIGNALS} == before


def test_the_stop_request_records_the_first_signal_and_restores_the_handlers():
    before = {sig: signal.getsignal(sig) for sig in preemption.SIGNALS}
    with preemption.StopRequest() as stop:
        assert stop.signal is None and stop.name is None
        _send(signal.SIGTERM)
        _send(signal.SIGTERM)
        assert stop.name == "SIGTERM"
    assert {sig: signal.getsignal(sig) for sig in preemption.SIGNALS} == before


def test_a_second_ctrl_c_stops_at_once():
    with preemption.StopRequest() as stop:
        _send(signal.SIGINT)
        assert stop.name == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            _send(signal.SIGINT)


def test_one_process_stops_when_it_was_signalled(tmp_path):
    ckpt = checkpoint.Checkpointer(tmp_path, read_only=True)
    assert preemption.should_stop(ckpt, 0, True) is True
    assert preemption.should_stop(ckpt, 1, False) is False


def test_importing_the_module_imports_no_jax():
    """The command line installs its handler from this module before the heavy imports."""
    code = "import sys, jaxgan.preemption; print([m for m in ('jax', 'numpy', 'orbax') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
