"""dat_tf.quiet: which lines TensorFlow writes while loading are shown."""

import pytest

from dat_tf.quiet import keep_line

NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = ("I0000 00:00:1796201085.303950   11866 port.cc:153] oneDNN custom operations are on. You may see "
          "slightly different numerical results due to floating-point round-off errors.")
CUDART = "I0000 00:00:1796201085.304361   11866 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used."
GUARD = ("I0000 00:00:1796201094.331172   11997 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
         "available CPU instructions in performance-critical operations.")
GUARD_2 = ("To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
           "appropriate compiler flags.")
CUINIT = ("E0000 00:00:1796201088.381561   11866 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          "Failed call to cuInit: UNKNOWN ERROR (303)")
GPU_WARNING = ("W0102 10:11:12.123456   11866 gpu_device.cc:2344] Cannot dlopen some GPU libraries. Skipping "
               "registering GPU devices...")
OTHER_ERROR = "E0000 00:00:1796201088.381561   11866 some_op.cc:52] something real went wrong"


@pytest.mark.parametrize("line", [NOTICE, ONEDNN, CUDART, GUARD, GUARD_2, CUINIT])
def test_cpu_only_noise_is_dropped(line):
    assert not keep_line(line, level=1, gpu_possible=False)


@pytest.mark.parametrize("line", [GPU_WARNING, OTHER_ERROR, "Traceback (most recent call last):",
                                  "  File \"x.py\", line 1, in <module>", "UserWarning: something"])
def test_warnings_errors_and_python_output_are_kept(line):
    assert keep_line(line, level=1, gpu_possible=False)


def test_cuinit_failure_is_kept_where_a_gpu_driver_exists():
    assert keep_line(CUINIT, level=1, gpu_possible=True)


def test_the_level_is_applied_to_lines_written_before_tf_reads_it():
    assert not keep_line(GPU_WARNING, level=2, gpu_possible=True)
    assert keep_line(OTHER_ERROR, level=2, gpu_possible=True)
    assert not keep_line(OTHER_ERROR, level=3, gpu_possible=True)


@pytest.mark.parametrize("line", [NOTICE, ONEDNN, CUDART, GUARD, GUARD_2, CUINIT])
def test_level_0_shows_everything(line):
    assert keep_line(line, level=0, gpu_possible=False)
