"""Fault tolerance: a killed run resumes exactly; bad checkpoints are skipped, loudly; none loading is an error."""

import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train.checkpoints import CheckpointRestoreError, RunCheckpointer, state_variables
from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import build_gan, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "ckpt-{}.data-00000-of-00001"


def _cfg(run_dir, **kw):
    base = dict(
        dataset="digits", net="dcgan", n_iter=6, log_every=2, checkpoint_every=2, keep_checkpoints=3,
        batch_size=16, width=8, steps_per_execution=1, verbose=0, sample_every=0, run_dir=str(run_dir),
    )
    base.update(kw)
    return TrainConfig(**base)


def _state(gan):
    return [keras.ops.convert_to_numpy(v) for v in state_variables(gan)]


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """An uninterrupted run to step 6 with checkpoints 2, 4, 6; its final state and ckpt-4's state."""
    run = tmp_path_factory.mktemp("good") / "run"
    gan, _ = train(_cfg(run))
    at4 = build_gan(_cfg(run))
    RunCheckpointer(at4, run / "checkpoints").restore(str(run / "checkpoints" / "ckpt-4"))
    return {"run": run, "final": _state(gan), "ckpt4": _state(at4)}


@pytest.fixture
def copy(good_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(good_run["run"], dst)
    return dst


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _flip_middle(path):
    data = bytearray(open(path, "rb").read())
    mid = len(data) // 2
    data[mid : mid + 16] = bytes(b ^ 0xFF for b in data[mid : mid + 16])
    open(path, "wb").write(bytes(data))


def _garble(path):
    open(path, "wb").write(b"\x00garbage\xff" * 50)


CORRUPTIONS = {
    "data truncated to half": (lambda d: _truncate(d / DATA.format(6)), ""),
    "data bytes flipped": (lambda d: _flip_middle(d / DATA.format(6)), "Checksum does not match"),
    "data missing": (lambda d: os.remove(d / DATA.format(6)), "no data file"),
    "index missing": (lambda d: os.remove(d / "ckpt-6.index"), "index file"),
    "index garbled": (lambda d: _garble(d / "ckpt-6.index"), ""),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_bad_newest_checkpoint_falls_back_and_overwrites_every_variable(good_run, copy, kind):
    corrupt, expect = CORRUPTIONS[kind]
    ckpts = copy / "checkpoints"
    corrupt(ckpts)
    # Start from a model holding the step-6 state, so a half-done restore of ckpt-6 or a variable
    # left out of the fallback would show.
    gan = build_gan(_cfg(copy))
    RunCheckpointer(gan, good_run["run"] / "checkpoints").restore(str(good_run["run"] / "checkpoints" / "ckpt-6"))
    assert any(not np.array_equal(a, b) for a, b in zip(_state(gan), good_run["ckpt4"]))
    checkpointer = RunCheckpointer(gan, ckpts)
    assert checkpointer.restore_latest() == 4
    [(path, reason)] = checkpointer.skipped
    assert path == str(ckpts / "ckpt-6") and reason and expect in reason
    assert checkpointer.restored_path == str(ckpts / "ckpt-4")
    assert checkpointer.restore_summary == (
        f"resumed from {ckpts}/ckpt-4 (generator step 4); skipped {ckpts}/ckpt-6: {reason}"
    )
    for a, b in zip(_state(gan), good_run["ckpt4"]):
        np.testing.assert_array_equal(a, b)


def _write_half_checkpoint(copy):
    """A listed, newest ckpt-8 with other model weights but no optimizer state: restoring it assigns the
    weights, then fails the every-variable check -- a restore that fails halfway."""
    ckpts = copy / "checkpoints"
    other = build_gan(_cfg(copy))
    for v in other.generator.weights + other.discriminator.weights:
        v.assign(v + 1.0)
    tf.train.Checkpoint(model=other).write(str(ckpts / "ckpt-8"))
    (ckpts / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-8"\n'
        + "".join(f'all_model_checkpoint_paths: "ckpt-{n}"\n' for n in (2, 4, 6, 8))
    )
    return other


def test_checkpoint_failing_halfway_leaves_nothing_behind(good_run, copy):
    ckpts = copy / "checkpoints"
    other = _write_half_checkpoint(copy)
    probe = build_gan(_cfg(copy))
    with pytest.raises(AssertionError):
        RunCheckpointer(probe, ckpts).restore(str(ckpts / "ckpt-8"))
    np.testing.assert_array_equal(probe.generator.weights[0].numpy(), other.generator.weights[0].numpy())  # half done

    gan = build_gan(_cfg(copy))
    checkpointer = RunCheckpointer(gan, ckpts)
    assert checkpointer.restore_latest() == 6
    assert [p for p, _ in checkpointer.skipped] == [str(ckpts / "ckpt-8")]
    assert checkpointer.skipped[0][1].startswith("AssertionError: ")
    for a, b in zip(_state(gan), good_run["final"]):  # ckpt-6 holds the final state
        np.testing.assert_array_equal(a, b)

    # If nothing else loads either, the half-restored weights are undone: the model is as before.
    for n in (2, 4, 6):
        _garble(ckpts / f"ckpt-{n}.index")
    fresh = build_gan(_cfg(copy))
    start = _state(fresh)
    with pytest.raises(CheckpointRestoreError, match="None of the 4 checkpoint"):
        RunCheckpointer(fresh, ckpts).restore_latest()
    for a, b in zip(_state(fresh), start):
        np.testing.assert_array_equal(a, b)


def test_truncated_newest_checkpoint_rerun_resumes_from_previous_and_ends_equal(good_run, copy, capfd):
    _truncate(copy / "checkpoints" / DATA.format(6))
    os.remove(copy / "gan.keras")
    gan, history = train(_cfg(copy))
    out = capfd.readouterr()
    ckpts = copy / "checkpoints"
    assert re.search(
        rf"Resuming {copy}: resumed from {ckpts}/ckpt-4 \(generator step 4\); skipped {ckpts}/ckpt-6: \S+", out.out
    ), out.out
    assert f"Checkpoint {ckpts}/ckpt-6 is unreadable, skipping it: " in out.err
    assert len(history["d_loss"]) == 1  # one epoch: steps 5-6
    assert int(gan.g_steps.numpy()) == 6
    for a, b in zip(_state(gan), good_run["final"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The rerun rewrote ckpt-6, which now loads.
    fresh = build_gan(_cfg(copy))
    assert RunCheckpointer(fresh, ckpts).restore_latest() == 6


def test_all_checkpoints_unreadable_is_an_error_naming_them(copy):
    ckpts = copy / "checkpoints"
    for n in (2, 4, 6):
        _garble(ckpts / f"ckpt-{n}.index")
    before = sorted(os.listdir(ckpts))
    exported = _sha(copy / "gan.keras")
    with pytest.raises(CheckpointRestoreError) as err:
        train(_cfg(copy, n_iter=8))
    message = str(err.value)
    assert "None of the 3 checkpoint(s)" in message and "not starting over from scratch" in message
    for n in (6, 4, 2):
        assert f"{ckpts}/ckpt-{n}: " in message
    assert [p for p, _ in err.value.tried] == [str(ckpts / f"ckpt-{n}") for n in (6, 4, 2)]
    assert sorted(os.listdir(ckpts)) == before and _sha(copy / "gan.keras") == exported  # nothing written



@pytest.mark.parametrize("content", [b"\x00garbage\xff" * 50, b"model_checkpoint_path: 12 nonsense"])
def test_garbled_state_file_uses_checkpoint_files_on_disk(copy, content):
    ckpts = copy / "checkpoints"
    open(ckpts / "checkpoint", "wb").write(content)  # not UTF-8 (TensorFlow raises) / not a proto (it ignores it)
    checkpointer = RunCheckpointer(build_gan(_cfg(copy)), ckpts)
    assert checkpointer.latest is None  # TensorFlow sees no checkpoint...
    assert checkpointer.has_checkpoints()  # ...we do
    assert checkpointer.restore_latest() == 6
    assert re.match(rf"resumed from {ckpts}/ckpt-6 \(generator step 6\) \(the state file {ckpts}/checkpoint is "
                    r"unreadable \(.+\); used the ckpt-N files on disk\)$", checkpointer.restore_summary)


def test_listed_checkpoints_first_then_unlisted_files(copy):
    # As after a crash between writing ckpt-6 and recording it: the state file names only 2 and 4.
    ckpts = copy / "checkpoints"
    tf.compat.v1.train.update_checkpoint_state(str(ckpts), "ckpt-4", all_model_checkpoint_paths=["ckpt-2", "ckpt-4"])
    checkpointer = RunCheckpointer(build_gan(_cfg(copy)), ckpts)
    assert checkpointer.candidates() == [str(ckpts / f"ckpt-{n}") for n in (4, 2, 6)]
    assert checkpointer.restore_latest() == 4
    # If the listed ones are gone (e.g. deleted by hand), the complete unlisted one is used.
    for name in glob.glob(str(ckpts / "ckpt-[24].*")):
        os.remove(name)
    assert checkpointer.restore_latest() == 6
    assert [reason for _, reason in checkpointer.skipped] == [
        f"FileNotFoundError: index file {ckpts}/ckpt-{n}.index is missing" for n in (4, 2)
    ]


def _cli_command(run_dir):
    # --net=mlp, not dcgan: dcgan's initializer is seeded once per *process* at import (nets/dcgan.py `_INIT`),
    # so two separate dcgan processes start from different weights; a resumed one restores them, so only the
    # comparison with a separate uninterrupted process needs a net whose initialisation follows --seed.
    return [
        sys.executable, os.path.join(ROOT, "bin", "train.py"), "--dataset=digits", "--net=mlp", "--width=8",
        "--batch_size=16", "--n_iter=200", "--log_every=10", "--checkpoint_every=50", "--steps_per_execution=1",
        "--sample_every=0", "--verbose=0", f"--run_dir={run_dir}",
    ]


def _recorded(ckpt_dir):
    """The step of the newest checkpoint the state file names (written by an atomic rename), 0 if none."""
    try:
        text = open(os.path.join(ckpt_dir, "checkpoint")).read()
    except FileNotFoundError:
        return 0
    m = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', text, re.M)
    return int(m.group(1)) if m else 0


def _final_weights_equal(a_dir, b_dir):
    a = keras.models.load_model(a_dir / "gan.keras", compile=False)
    b = keras.models.load_model(b_dir / "gan.keras", compile=False)
    assert int(a.g_steps.numpy()) == int(b.g_steps.numpy()) == 200
    for role in ("generator", "discriminator"):
        wa, wb = getattr(a, role).weights, getattr(b, role).weights
        assert len(wa) == len(wb) > 0
        for x, y in zip(wa, wb):
            np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=f"{role} {x.path}")


def _interrupt_and_rerun(tmp_path, name, interrupt):
    """Runs ``_cli_command`` for two run folders side by side; once ``ckpt-100`` of the second is recorded,
    ``interrupt(process, run_dir, log_path)`` stops it and returns the step the rerun must resume from (``None``:
    any in 100..199). The rerun finishes and ends with the uninterrupted run's weights, bitwise."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    whole_dir, victim_dir = tmp_path / "whole", tmp_path / name

    def start(run_dir):
        log = open(tmp_path / f"{run_dir.name}.log", "w")
        return subprocess.Popen(_cli_command(run_dir), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    whole, victim = start(whole_dir), start(victim_dir)  # side by side: same command, other run_dir
    try:
        deadline = time.time() + 240
        while _recorded(victim_dir / "checkpoints") < 100:  # ckpt-100 or later is recorded
            assert victim.poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
            assert time.time() < deadline, "no ckpt-100 within 240 s"
            time.sleep(0.02)
        step = interrupt(victim, victim_dir, tmp_path / f"{name}.log")
        assert _recorded(victim_dir / "checkpoints") < 200 and not (victim_dir / "gan.keras").exists(), (
            "the run must be stopped mid-run"
        )

        rerun = subprocess.run(_cli_command(victim_dir), cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        resumed = re.search(r"resumed from \S+/ckpt-(\d+) \(generator step (\d+)\)", rerun.stdout)
        assert resumed and 100 <= int(resumed.group(1)) == int(resumed.group(2)) < 200, rerun.stdout
        assert step is None or int(resumed.group(1)) == step, (step, rerun.stdout)
        assert "finished 200 generator steps" in rerun.stdout
        assert whole.wait(timeout=300) == 0, (tmp_path / "whole.log").read_text()[-3000:]
    finally:
        for proc in (whole, victim):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _final_weights_equal(whole_dir, victim_dir)


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_equals_uninterrupted(tmp_path):
    def kill(victim, run_dir, log):
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=60) == -signal.SIGKILL
        return None

    _interrupt_and_rerun(tmp_path, "killed", kill)


@pytest.mark.slow
def test_sigterm_between_checkpoints_saves_that_step_exits_143_and_the_rerun_equals_uninterrupted(tmp_path):
    def terminate(victim, run_dir, log):
        time.sleep(0.1)  # past ckpt-100; the next one is at 150
        victim.send_signal(signal.SIGTERM)
        assert victim.wait(timeout=120) == 143, log.read_text()[-3000:]
        output = log.read_text()
        m = re.search(r"^error: terminated \(SIGTERM\) at generator step (\d+) in \S+; saved (\S+), where a rerun "
                      r"continues\. Rerun the same command to resume\.$", output, re.M)
        assert m, output[-3000:]
        step = int(m.group(1))
        assert 100 < step < 200 and m.group(2) == str(run_dir / "checkpoints" / f"ckpt-{step}")
        assert _recorded(run_dir / "checkpoints") == step and os.path.exists(m.group(2) + ".index")
        return step

    _interrupt_and_rerun(tmp_path, "stopped", terminate)


@pytest.mark.slow
@pytest.mark.parametrize("during", [".tmp-generator.keras", ".tmp-generator_savedmodel"])
def test_sigkill_during_the_final_export_is_repaired_by_the_rerun(tmp_path, during):
    """kill -9 while the exports are written: the rerun says the run is finished, rewrites them, and they load."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run_dir = tmp_path / "run"
    command = _cli_command(run_dir)
    log = open(tmp_path / "victim.log", "w")
    victim = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while not (run_dir / during).exists():  # the export has begun writing `during`: kill it there
            assert victim.poll() is None, (tmp_path / "victim.log").read_text()[-3000:]
            assert time.time() < deadline, f"no {during} within 240 s"
            time.sleep(0.002)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert _recorded(run_dir / "checkpoints") == 200, "the final checkpoint precedes the export"
    assert not (run_dir / "generator_savedmodel").exists(), "killed before the export finished"

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "already at generator step 200; rewriting its missing or broken exports" in rerun.stdout, rerun.stdout
    from dat_tf.train.export import exports_ok, load_exported_generator

    assert exports_ok(str(run_dir))
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".tmp-")], "no temporary export left behind"
    from dat_tf.train.run_dir import RunDir

    generator, step = RunDir(str(run_dir)).load_generator()  # the newest checkpoint's generator
    assert step == 200
    z = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    expected = generator(z, training=False).numpy()
    for path in ("generator.keras", "generator_savedmodel"):  # both exports are the final checkpoint's generator
        generate, latent_dim = load_exported_generator(str(run_dir / path))
        assert latent_dim == 2
        np.testing.assert_allclose(generate(z), expected, rtol=1e-5, atol=1e-6, err_msg=path)
