"""benchmarks/first_step.py: the stage arithmetic of its table."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("first_step", os.path.join(ROOT, "benchmarks", "first_step.py"))
first_step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(first_step)


def _result(stages, peak, params, steady):
    names = ("import", "build", "first iteration", "2 more")
    return {"stages": [{"stage": n, "s": s, "rss_mib": r} for n, (s, r) in zip(names, stages)],
            "peak_mib": peak, "params": params, "steady_s": steady}


def test_table_rows_are_stage_increments_in_row_order():
    results = {
        "dat_tf_none": _result([(5.0, 700.0), (7.5, 720.0), (40.0, 1900.0), (55.0, 2000.0)], 2100.0, 2**20, 7.25),
        "mimicry": _result([(2.0, 300.0), (2.5, 350.0), (20.0, 700.0), (50.0, 800.0)], 850.0, 2 * 2**20, 15.0),
    }
    meta = {"date": "d", "command": "c", "machine": "m", "load": (0.1, 0.2)}
    lines = first_step.render(results, meta)
    rows = [line for line in lines if line.startswith("| ") and "MiB" in line]
    assert [r.split(" | ")[0] for r in rows] == ["| PyTorch torch-mimicry (SNGAN-32, its own `train_step`s)",
                                                  "| dat_tf `none`"]  # ROWS order; unmeasured rows left out
    # build +2.5 s, +20 MiB; first iteration +32.5 s, +1180 MiB; weights + Adam: 2^20 params x 4 B x 3 = 12 MiB
    assert rows[1] == ("| dat_tf `none` | 5.0 s, 700 MiB | +2.5 s, +20 MiB | +32.5 s, +1,180 MiB | 7.25 s | "
                       "2,100 MiB | 12 MiB |")
    assert rows[0].endswith("| 15.00 s | 850 MiB | 24 MiB |")
