"""benchmarks/procstat.py: the memory readings of first_step.py and run_all.py's memory table."""

from benchmarks import procstat


def test_memory_readings_are_this_process_s():
    now, peak = procstat.rss_mib(), procstat.peak_mib()
    assert 1 < now <= peak + 1  # resident now never above the peak so far (kB rounding aside)
    block = bytearray(64 * 2**20)  # touch 64 MiB: both readings grow by about that much
    for i in range(0, len(block), 4096):
        block[i] = 1
    assert procstat.rss_mib() - now > 48 and procstat.peak_mib() >= procstat.rss_mib() - 1
