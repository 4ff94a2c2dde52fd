"""The PyTorch peer (benchmarks/peers.py): its venv setup, its stdin/stdout protocol and its controller.

Everything but the last test runs without torch: the protocol is driven with a stand-in worker
(a script that serves peers.py's own protocol loop with a fake model), and the setup with a faked
subprocess. The last test uses the real peer environment when one exists; no test installs torch.
"""

import importlib.util
import io
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "peers.py")


def _load():
    spec = importlib.util.spec_from_file_location("benchmarks_peers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peers = _load()


class FakeModel:
    """Stands in for peers.Worker: a ready line and iterations that count themselves."""

    def __init__(self, losses):
        self.losses = list(losses)
        self.calls = 0

    def ready_line(self, counts):
        return {"ready": True, **counts}

    def iteration(self):
        self.calls += 1
        return self.losses[self.calls - 1]


def _serve(commands, losses=(0.5, 0.25, 0.125)):
    model, out = FakeModel(losses), io.StringIO()
    code = peers._serve(model, {"d_forwards_per_d_step": 2}, out, io.StringIO(commands))
    return code, model, [json.loads(line) for line in out.getvalue().splitlines()]


def test_protocol_ready_first_then_one_answer_per_run():
    code, model, answers = _serve("run 2\n\nrun 1\nquit\nrun 5\n")
    assert code == 0
    assert answers[0] == {"ready": True, "d_forwards_per_d_step": 2}
    assert [sorted(a) for a in answers[1:]] == [["last_d_loss", "seconds_per_iteration"]] * 2
    assert [a["last_d_loss"] for a in answers[1:]] == [0.25, 0.125]  # the last iteration's loss of each run
    assert all(a["seconds_per_iteration"] >= 0 for a in answers[1:])
    assert model.calls == 3  # nothing after 'quit' ran


def test_protocol_answers_bad_commands_with_an_error_and_goes_on():
    code, model, answers = _serve("run 0\nrun x\nfly\nrun 1\n")  # end of input also ends the worker
    assert code == 0
    assert [("error" in a) for a in answers[1:]] == [True, True, True, False]
    assert "'fly'" in answers[3]["error"] and "run K" in answers[3]["error"]
    assert model.calls == 1


def test_protocol_reports_a_non_finite_loss_as_null():
    _, _, answers = _serve("run 1\n", losses=[float("nan")])
    assert answers[1]["last_d_loss"] is None


# A stand-in worker: peers.py's own protocol loop with a fake model; modes pick a failure.
FAKE_WORKER = textwrap.dedent("""
    import argparse, importlib.util, json, sys, time
    spec = importlib.util.spec_from_file_location("peers", {script!r})
    peers = importlib.util.module_from_spec(spec); spec.loader.exec_module(peers)
    p = argparse.ArgumentParser()
    p.add_argument("--worker", action="store_true"); p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int); p.add_argument("--batch-size", type=int); p.add_argument("--n-dis", type=int)
    args = p.parse_args()
    mode = {mode!r}
    if mode == "die":
        print("ModuleNotFoundError: No module named 'torch'", file=sys.stderr); sys.exit(3)
    if mode == "hang":
        time.sleep(60)
    if mode == "noise":
        print("Loading weights...", flush=True)
    class Model:
        def ready_line(self, counts):
            return dict(ready=True, threads=args.threads, seed=args.seed, batch_size=args.batch_size, **counts)
        def iteration(self):
            if mode == "die_in_run":
                print("Segmentation fault in conv2d", file=sys.stderr, flush=True); sys.exit(139)
            time.sleep(0.01)
            return 1.5
    sys.exit(peers._serve(Model(), dict(d_forwards_per_d_step=2), sys.stdout, sys.stdin))
""")


def _fake(tmp_path, mode="ok"):
    path = tmp_path / f"fake_worker_{mode}.py"
    path.write_text(FAKE_WORKER.format(script=SCRIPT, mode=mode))
    return str(path)


def test_controller_runs_and_closes_a_worker(tmp_path):
    with peers.PeerProcess(sys.executable, threads=3, seed=7, batch_size=8, script=_fake(tmp_path)) as peer:
        assert peer.ready == {"ready": True, "threads": 3, "seed": 7, "batch_size": 8, "d_forwards_per_d_step": 2}
        seconds = peer.run(2)
        assert seconds >= 0.01 and seconds == peer.last["seconds_per_iteration"]
        assert peer.last["last_d_loss"] == 1.5
    assert peer.close() == 0  # quit was sent on exit; closing again is harmless
    with pytest.raises(peers.PeerError, match="has exited"):
        peer.run(1)


def test_controller_names_the_cause_when_the_worker_dies_before_ready(tmp_path):
    with pytest.raises(peers.PeerError) as err:
        peers.PeerProcess(sys.executable, script=_fake(tmp_path, "die"), ready_timeout=60)
    assert "exited with code 3 before the ready line" in str(err.value)
    assert "No module named 'torch'" in str(err.value)


def test_controller_names_the_cause_when_the_worker_dies_in_a_run(tmp_path):
    with peers.PeerProcess(sys.executable, script=_fake(tmp_path, "die_in_run")) as peer:
        with pytest.raises(peers.PeerError) as err:
            peer.run(1)
    assert "exited with code 139" in str(err.value) and "Segmentation fault in conv2d" in str(err.value)


def test_controller_refuses_stdout_that_is_not_the_protocol(tmp_path):
    with pytest.raises(peers.PeerError, match="non-JSON line.*Loading weights"):
        peers.PeerProcess(sys.executable, script=_fake(tmp_path, "noise"))


def test_controller_gives_up_on_a_silent_worker(tmp_path):
    with pytest.raises(peers.PeerError, match="did not give the ready line within 0.5 s"):
        peers.PeerProcess(sys.executable, script=_fake(tmp_path, "hang"), ready_timeout=0.5)


def test_controller_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        peers.PeerProcess(sys.executable, threads=0, script=_fake(tmp_path))
    with pytest.raises(peers.PeerError, match="does not exist.*--setup"):
        peers.PeerProcess(str(tmp_path / "no-venv" / "bin" / "python"))
    with peers.PeerProcess(sys.executable, script=_fake(tmp_path)) as peer:
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="k must be an integer >= 1"):
                peer.run(bad)


def test_cli_refuses_bad_flags_and_a_python_without_mimicry():
    bad = subprocess.run([sys.executable, SCRIPT, "--worker", "--threads", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--threads: must be an integer >= 1, got '0'" in bad.stderr
    assert bad.stdout == ""
    check = subprocess.run([sys.executable, SCRIPT, "--check"], capture_output=True, text=True)
    assert check.returncode == 2 and "torch_mimicry is not installed" in check.stderr


# --- setup, with subprocess faked -----------------------------------------------------------


class FakeRun:
    """Records the commands ensure_venv runs; builds a venv's layout for 'python -m venv'."""

    def __init__(self, fail_on=None, output="ERROR: No matching distribution found for torch==2.13.0"):
        self.commands, self.fail_on, self.output = [], fail_on, output

    def __call__(self, cmd, **kwargs):
        self.commands.append(cmd)
        if self.fail_on and self.fail_on in " ".join(cmd):
            return subprocess.CompletedProcess(cmd, 1, stdout="Collecting ...\n" + self.output)
        if cmd[1:3] == ["-m", "venv"]:
            os.makedirs(os.path.join(cmd[3], "bin"))
            open(os.path.join(cmd[3], "pyvenv.cfg"), "w").close()
            open(os.path.join(cmd[3], "bin", "python"), "w").close()
        return subprocess.CompletedProcess(cmd, 0, stdout="")


def _quiet(_):
    pass


def test_setup_installs_the_pinned_packages_then_reuses_the_venv(tmp_path, monkeypatch):
    fake = FakeRun()
    monkeypatch.setattr(peers.subprocess, "run", fake)
    venv = str(tmp_path / "peers-venv")
    python = peers.ensure_venv(venv, log=_quiet)
    assert python == os.path.join(venv, "bin", "python")
    installs = [[a for a in cmd[cmd.index("install") + 1:] if a not in ("--disable-pip-version-check", "--no-input")]
                for cmd in fake.commands if "install" in cmd]
    assert installs == [["torch==2.13.0"], ["--no-deps", "torch-mimicry==0.1.16"], ["numpy"]]
    assert fake.commands[-1][-1] == "--check"  # the import is checked before the marker is written
    with open(os.path.join(venv, peers.MARKER)) as f:
        assert json.load(f)["torch"] == "2.13.0"
    fake.commands.clear()
    assert peers.ensure_venv(venv, log=_quiet) == python
    assert fake.commands == []  # reused: nothing ran


def test_setup_rebuilds_a_venv_with_another_marker(tmp_path, monkeypatch):
    fake = FakeRun()
    monkeypatch.setattr(peers.subprocess, "run", fake)
    venv = tmp_path / "peers-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("")
    (venv / "bin" / "python").write_text("")
    (venv / "stale").write_text("from an older pin")
    (venv / peers.MARKER).write_text(json.dumps({"torch": "2.0.0"}))
    peers.ensure_venv(str(venv), log=_quiet)
    assert not (venv / "stale").exists()
    assert any("torch==2.13.0" in cmd for cmd in fake.commands)


def test_setup_names_the_package_pip_could_not_get(tmp_path, monkeypatch):
    monkeypatch.setattr(peers.subprocess, "run", FakeRun(fail_on="torch==2.13.0"))
    venv = tmp_path / "peers-venv"
    with pytest.raises(peers.PeerError) as err:
        peers.ensure_venv(str(venv), log=_quiet)
    assert "pip install torch==2.13.0 failed (exit 1)" in str(err.value)
    assert "No matching distribution found for torch==2.13.0" in str(err.value)
    assert not (venv / peers.MARKER).exists()  # the next call starts again


def test_setup_names_a_missing_venv_command(tmp_path, monkeypatch):
    def no_python(cmd, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", cmd[0])

    monkeypatch.setattr(peers.subprocess, "run", no_python)
    with pytest.raises(peers.PeerError, match="python -m venv failed: cannot run"):
        peers.ensure_venv(str(tmp_path / "v"), log=_quiet)


def test_setup_never_deletes_a_folder_that_is_not_a_venv(tmp_path, monkeypatch):
    monkeypatch.setattr(peers.subprocess, "run", FakeRun())
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(peers.PeerError, match="exists and is not a virtual environment"):
        peers.ensure_venv(str(tmp_path), log=_quiet)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


# --- the real peer ------------------------------------------------------------------------------

REAL_VENV = os.environ.get(peers.VENV_ENV_VAR) or os.path.join(ROOT, peers.DEFAULT_VENV)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(REAL_VENV, peers.MARKER)),
                    reason=f"no peer environment at {REAL_VENV} (python benchmarks/peers.py --setup {peers.DEFAULT_VENV})")
def test_real_mimicry_worker_counts_its_work_and_times_an_iteration():
    n_dis = 2
    # Full widths, tiny batch: seconds, not the benchmark's minute.
    with peers.PeerProcess(peers.venv_python(REAL_VENV), threads=1, seed=3, batch_size=2, n_dis=n_dis) as peer:
        ready = peer.ready
        assert ready["torch"].startswith(peers.TORCH_VERSION) and ready["cuda"] is None
        assert ready["torch_mimicry"] == peers.MIMICRY_VERSION
        assert (ready["threads"], ready["interop_threads"], ready["n_dis"]) == (1, 1, n_dis)
        # mimicry's D step: D on reals and on (detached) fakes, one backward through D alone;
        # its G step: G then D on fakes, one backward through both.
        assert ready["d_step"] == {"D_forwards": 2, "G_forwards": 1, "backwards": 1, "input_gradient_passes": 0,
                                   "backward_reaches": ["D"]}
        assert ready["g_step"] == {"D_forwards": 1, "G_forwards": 1, "backwards": 1, "input_gradient_passes": 0,
                                   "backward_reaches": ["D", "G"]}
        assert ready["d_forwards_per_iteration"] == 2 * n_dis + 1
        assert ready["backwards_per_iteration"] == n_dis + 1
        seconds = peer.run(1)
        assert seconds > 0 and math.isfinite(peer.last["last_d_loss"])
    assert peer.close() == 0
