"""Child-process scripts shared by the kill-and-resume tests (not a test module)."""

# A sweep whose unit of work logs each call's run key to argv[3] and sleeps argv[4] seconds
# first: argv = spec, store, log, seconds. A test kills it mid-sweep and counts what ran.
COUNTED_SWEEP = """
import sys
import time

from indexlab.experiments import runner
from indexlab.experiments.spec import load_spec
from indexlab.experiments.store import Store

original = runner.execute_run


def counted(config, threads=None):
    with open(sys.argv[3], "a") as fh:  # one line per call of the unit of work
        fh.write(runner.run_key(config) + "\\n")
    time.sleep(float(sys.argv[4]))
    return original(config, threads)


runner.execute_run = counted
if __name__ == "__main__":
    runner.sweep(load_spec(sys.argv[1]), Store(sys.argv[2]), progress=False)"""
