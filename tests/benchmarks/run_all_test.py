"""benchmarks/run_all.py's new tables: the command line's path (FitRunner), the bfloat16 verdict, the renderers' sums."""

import importlib.util
import os

import keras
import pytest

from benchmarks import harness as cost
from dat_study import stats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():
    spec = importlib.util.spec_from_file_location("benchmarks_run_all", os.path.join(ROOT, "benchmarks", "run_all.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_all = _load()


# ------------------------------------------------------------------ the command line's path


def test_cli_config_is_the_flagfile_with_its_defaults(tmp_path):
    cfg = cost.cli_config(run_all.SNGAN_FLAGFILE, str(tmp_path / "run"))
    assert (cfg.net, cfg.batch_size, cfg.n_dis, cfg.loss) == ("sngan", 64, 5, "hinge")
    assert cfg.run_dir == str(tmp_path / "run")
    # What the benchmark path turns off stays on: the command line's own defaults.
    assert cfg.log_gradient_norms is True and cfg.steps_per_execution == 50 and cfg.log_every == 500
    bench = cost.gan_config("sngan32", "none")
    assert bench.log_gradient_norms is False and bench.steps_per_execution == 1


def test_fit_runner_paces_one_fit_step_by_step_with_the_command_lines_callbacks(tmp_path):
    cfg = cost.gan_config("mlp", "none", batch_size=16, log_gradient_norms=True, log_every=4, steps_per_execution=4,
                          checkpoint_every=6, run_dir=str(tmp_path / "run"))
    runner = cost.FitRunner(cfg, cfg.run_dir, warmup=2)
    names = [type(c).__name__ for c in runner._callbacks]
    assert names == ["NaNGuard", "TensorBoardLogger", "ProgressLogger", "CheckpointCallback"]
    assert runner.gan.diagnostics_every == 4  # diagnostics at the logging cadence, as bin/train.py builds it
    began, ended = [], []
    runner._callbacks.append(keras.callbacks.LambdaCallback(on_train_begin=lambda logs: began.append(1),
                                                            on_epoch_end=lambda epoch, logs: ended.append(epoch)))
    runner.close()  # the warm-up's fit ends; the next call starts one fit with the callback above
    g = lambda: int(keras.ops.convert_to_numpy(runner.gan.g_steps))  # noqa: E731
    before = g()
    for n in (3, 1, 2, 1):
        loss = runner(n)
        assert loss == loss  # a finite number from the last step's logs
    assert g() == before + 7 and runner.gan.steps_per_execution == 1
    assert began == [1]  # one fit for every round: its set-up paid once, as on the command line
    assert ended == [0]  # one epoch end after log_every (4) steps, not one per round
    # The checkpoint callback of the command line saved once the run crossed checkpoint_every (step 6).
    assert any(f.startswith("ckpt-") for f in os.listdir(os.path.join(cfg.run_dir, "checkpoints")))
    assert runner.epoch_end_s() > 0
    runner.close()
    assert g() == before + 7  # closing ran no further step


def test_keras_fit_runner_is_a_plain_fit_with_gan_s_default_diagnostics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = cost.gan_config("mlp", "none", batch_size=16, log_gradient_norms=True, log_every=4)
    runner = cost.KerasFitRunner(cfg, steps_per_epoch=3, warmup=2)
    assert runner._callbacks == [] and runner.gan.diagnostics_every == "epoch"
    ended = []
    runner._callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ended.append(
        logs["grad_norm_real"])))
    runner.close()
    for n in (2, 2, 3):
        runner(n)
    assert len(ended) == 2 and all(v > 0 for v in ended)  # epochs of 3 steps, each with its diagnostics
    assert not os.listdir(tmp_path)  # nothing written where it ran: no run folder, no logger
    runner.close()


def test_fit_runner_reports_its_failure(tmp_path):
    cfg = cost.gan_config("mlp", "none", batch_size=16, log_every=3, run_dir=str(tmp_path / "run"))
    runner = cost.FitRunner(cfg, cfg.run_dir, warmup=1)

    def fail(batch, logs=None):
        raise ValueError("boom")

    runner._callbacks.append(keras.callbacks.LambdaCallback(on_train_batch_end=fail))
    runner.close()
    with pytest.raises(RuntimeError, match="the command line's fit stopped: ValueError\\('boom'\\)"):
        runner(2)


# ------------------------------------------------------------------ bfloat16's verdict (rule fixed before the runs)


def _cell(fp32, bf16):
    return stats.paired(dict(enumerate(bf16)), dict(enumerate(fp32)), lower_is_better=True)


def test_quality_verdict_rule_on_hand_worked_cases():
    # bf16 - fp32 = +0.5, +0.7, +0.3: mean 0.5, sd 0.2, interval 0.5 +- 4.303 * 0.2 / sqrt(3) = [0.003, 0.997].
    worse = _cell([50.0, 60.0, 55.0], [50.5, 60.7, 55.3])
    assert -worse.ci[1] == pytest.approx(0.5 - 4.3027 * 0.2 / 3 ** 0.5, abs=1e-3)
    assert run_all.quality_verdict(worse, 0.10) == "worse"  # the whole interval above 0
    # Differences -1, +1, 0: interval 0 +- 4.303 * 1 / sqrt(3) = +-2.48; margin 10% of 55 = 5.5: as good.
    same = _cell([50.0, 60.0, 55.0], [49.0, 61.0, 55.0])
    assert run_all.quality_verdict(same, 0.10) == "as good"
    # The same differences with a 2% margin (1.1) cannot rule out a loss of 2.48: undecided.
    assert run_all.quality_verdict(same, 0.02) == "undecided"
    # Differences -4, +6, -1: mean +0.33, sd 5.13, upper end 0.33 + 12.7 = 13.1 > 5.5: undecided.
    wide = _cell([50.0, 60.0, 55.0], [46.0, 66.0, 54.0])
    assert run_all.quality_verdict(wide, 0.10) == "undecided"
    one = _cell([50.0], [51.0])
    assert run_all.quality_verdict(one, 0.10).startswith("undecided (fewer than 2")


# ------------------------------------------------------------------ the renderers' arithmetic


def _efficiency_data():
    s = {"none": 10.0, "cli_defaults": 10.3, "none_diagnostics_every_step": 12.0, "none_keras_batch_norm": 11.0,
         "dat_reference": 13.0, "dat_paper": 13.5}
    g = {"none": 2000e9, "none_diagnostics_every_step": 2500e9, "dat_reference": 2500e9, "dat_paper": 2500e9}
    counts = {k: {"total": v, "conv_matmul": 0.99 * v, "tf_registry_flops": 0.5 * v} for k, v in g.items()}
    floor = {"floor_ratio": 1.25, "counted_ratio": 1.25, "d_forward_flops": 30e9, "d_input_gradient_flops": 60e9,
             "batch_size": 64, "n_dis": 5}
    prof = {"wall_s_per_step": 10.0, "op_self_s_per_step": 19.0,
            "by_type": [{"op_type": "_MklNativeFusedConv2D", "s_per_step": 8.0, "share": 0.42, "count_per_step": 170},
                        {"op_type": "Mean", "s_per_step": 1.0, "share": 0.05, "count_per_step": 89}]}
    return {
        "results": {k: {"median_s": v, "round_s": [v, v * 1.1]} for k, v in s.items()},
        "flops": counts, "rounds": 2, "steps": 1,
        "settings": cost.net_settings(cost.gan_config("sngan32", "none")),
        "cli": {"flagfile": "configs/sngan_cifar10.flags", "log_every": 500, "steps_per_execution": 50,
                "log_gradient_norms": True, "checkpoint_every": 5000, "on_nan": "stop"},
        "floors": {"dat_reference": dict(floor, variant="reference"), "dat_paper": dict(floor, variant="paper")},
        "profiles": {"none": prof, "dat_reference": prof},
        "peak": {"nominal_gflops": 400.0, "measured_gflops": 200.0, "cores": 2, "flops_per_cycle": 64,
                 "clock_mhz": 3125.0, "assumption": "x", "clock_source": "y", "measured_how": "z",
                 "measured_over_nominal": 0.5},
        "gpu": run_all.GPU_PROJECTION,
    }


def test_efficiency_table_ratios_rates_and_floor():
    text = "\n".join(run_all._render_efficiency(_efficiency_data()))
    rows = {line.split(" | ")[0]: line.rstrip(" |").split(" | ") for line in text.splitlines() if line.startswith("| `")}
    cli = next(r for k, r in rows.items() if "command-line defaults" in k)
    assert cli[2] == "**1.030x**"  # 10.3 / 10.0
    # CLI GFLOP: none + (diagnostics step - none) / log_every = 2000 + 500 / 500 = 2001.
    assert cli[3] == "2,001.0"
    none = next(r for k, r in rows.items() if "benchmark path" in k)
    assert none[4] == "200" and none[5] == "100%" and none[6] == "50%"  # 2000 GFLOP / 10 s vs 200 and 400
    # Time above the floor: 13.0 / 10.0 / 1.25 - 1 = +4.0%.
    keras_bn = next(r for k, r in rows.items() if "Keras' own" in k)
    assert keras_bn[2] == "**1.100x**" and keras_bn[3] == "2,000.0"  # same FLOPs as none, other kernels
    floor_row = next(line for line in text.splitlines() if line.startswith("| `reference` |"))
    assert floor_row.endswith("| 1.300x | +4.0% |")
    assert not any("Keras user" in k for k in rows)  # stored before that row existed: left out, not invented


def test_efficiency_table_compares_a_keras_user_s_defaults_with_the_command_line():
    d = _efficiency_data()
    d["results"]["keras_defaults"] = {"median_s": 10.506, "round_s": [10.506]}
    d["keras_epoch_steps"] = 100
    text = "\n".join(run_all._render_efficiency(d))
    row = next(line.split(" | ") for line in text.splitlines() if "a Keras user's `GAN(...)` defaults" in line)
    assert row[2] == "**1.051x**" and row[3] == "2,005.0"  # 10.506 / 10; 2000 + 500 / 100 GFLOP
    assert "defaults / command-line defaults: 1.020x**" in text  # 10.506 / 10.3


def test_peers_table_ratios():
    res = {"mimicry": 40.0, "none": 30.0, "dat_reference": 36.0, "dat_paper": 39.0}
    d = {"results": {k: {"median_s": v, "round_s": [v]} for k, v in res.items()}, "rounds": 1, "steps": 1,
         "threads": 2, "settings": cost.net_settings(cost.gan_config("sngan32", "none")),
         "mimicry": {"torch": "2.13.0+cpu", "torch_mimicry": "0.1.16", "d_forwards_per_iteration": 11}}
    text = "\n".join(run_all._render_peers(d))
    assert "| 30.00 (30.00-30.00) | 0.75x mimicry |" in text
    assert "| 36.00 (36.00-36.00) | 1.20x dat_tf `none`; 0.90x mimicry |" in text
    assert "11 D forwards" in text and "21 D forwards per iteration" in text  # n_dis 5: 2 * 5 + 1 and 4 * 5 + 1


def test_the_default_run_leaves_the_peers_out():
    assert "peers" in run_all.TABLES and run_all.OPTIONAL_TABLES == ("peers",)
    args = run_all._parser().parse_args([])
    assert args.tables == "" and args.peers is False
