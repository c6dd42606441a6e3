"""The profiler's environment variables, named once for mprof, the tests
and the benchmarks.  Each is also a tunable, glibc.malloc.profile (ON)
and glibc.malloc.profile_NAME for the others."""

# Every variable's name starts with it.
PREFIX = "GLIBC_MALLOC_PROFILE"
# Set to 1 to profile.
ON = PREFIX
# The sampling mean: the bytes between two samples on average.
MEAN = PREFIX + "_BYTES"
OUT = PREFIX + "_OUT"
UNWIND = PREFIX + "_UNWIND"
DEPTH = PREFIX + "_DEPTH"
SEED = PREFIX + "_SEED"
PEAK = PREFIX + "_PEAK"
INTERVAL = PREFIX + "_INTERVAL"
