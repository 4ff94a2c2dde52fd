"""StopRequest records the first Ctrl-C/SIGTERM and interrupts on the second; CheckpointCallback saves and stops."""

import signal
import threading
import types

import pytest

from dat_tf.train.checkpoints import CheckpointCallback
from dat_tf.train.stop_signals import Interrupted, StopRequest, describe


@pytest.fixture(autouse=True)
def _signals_as_in_a_terminal():
    """A test run started in the background (``cmd &``, as CI may be) inherits SIGINT ignored, which StopRequest
    rightly leaves alone; these tests are about a terminal's Ctrl-C, so they start from Python's own handlers."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in saved.items():
        signal.signal(s, signal.SIG_DFL if handler is None else handler)


def _signal_self(signum):
    # To this (the main) thread: pthread_kill runs the Python handler before it returns. os.kill lets the kernel
    # pick another thread of the process (TensorFlow's pools have many) when this one blocks the signal, and the
    # handler then runs whenever the main thread next checks for signals.
    signal.pthread_kill(threading.get_ident(), signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_is_recorded_and_the_second_interrupts_at_once(signum):
    before = signal.getsignal(signum)
    with StopRequest() as stop:
        _signal_self(signum)
        assert stop.signum == signum  # recorded: training goes on to the next execution end
        with pytest.raises(Interrupted) as info:
            _signal_self(signum)
        assert info.value.signum == signum and info.value.path is None
    assert signal.getsignal(signum) is before  # put back


def test_an_ignored_signal_stays_ignored_and_other_threads_install_nothing():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
    try:
        with StopRequest() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == stop._handle
        installed = []

        def in_a_thread():  # Python delivers signals to the main thread only
            with StopRequest() as other:
                installed.append(dict(other._previous))

        thread = threading.Thread(target=in_a_thread)
        thread.start()
        thread.join()
        assert installed == [{}]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_messages_name_the_signal():
    assert describe(signal.SIGINT) == "interrupted (Ctrl-C)"
    assert describe(signal.SIGTERM) == "terminated (SIGTERM)"


@pytest.mark.parametrize("signum, start, at", [(signal.SIGTERM, 7, 13), (signal.SIGINT, 0, 10)],
                         ids=["between_checkpoints", "on_a_checkpoint_step"])
def test_checkpoint_callback_saves_the_step_reached_once_then_raises(signum, start, at):
    step, saved = [start], []
    checkpointer = types.SimpleNamespace(step=lambda: step[0], state_is_finite=lambda: True, latest=None,
                                         save=lambda: saved.append(step[0]) or f"ckpt-{step[0]}")
    stop = StopRequest()
    callback = CheckpointCallback(checkpointer, every=10, stop=stop)
    callback.on_train_begin()
    step[0] = start + 2
    callback.on_train_batch_end(1)  # no signal, no multiple: nothing
    assert saved == []
    stop.signum, step[0] = signum, at
    with pytest.raises(Interrupted) as info:
        callback.on_train_batch_end(5)
    assert (info.value.signum, info.value.step, info.value.path) == (signum, at, f"ckpt-{at}")
    assert saved == [at]  # on a multiple of 10 too: the cadence's save is the signal's
